//! Checks of the repository's deployable artefacts, in one binary: the sample events, the
//! example secret values and the SAM template.

mod sam_template;
mod sample_events;
mod sample_secrets;

//! Comparing what two users hold, for alternating users' privilege parity.

use std::collections::BTreeMap;

/// What a user holds: each grant, with whether it carries the grant (or admin) option.
pub type Holdings<K> = BTreeMap<K, bool>;

/// What `from` holds that `to` lacks, or holds without the option `from` has.
///
/// ```
/// use secret_rotor_db::parity::{Holdings, missing};
/// let from: Holdings<&str> = [("select", true), ("insert", false)].into();
/// let to: Holdings<&str> = [("select", false)].into();
/// assert_eq!(missing(&from, &to), vec![("insert", false), ("select", true)]);
/// assert!(missing(&to, &from).is_empty());
/// ```
pub fn missing<K: Ord + Clone>(from: &Holdings<K>, to: &Holdings<K>) -> Vec<(K, bool)> {
    from.iter()
        .filter(|(grant, option)| match to.get(*grant) {
            None => true,
            Some(has) => **option && !*has,
        })
        .map(|(g, o)| (g.clone(), *o))
        .collect()
}

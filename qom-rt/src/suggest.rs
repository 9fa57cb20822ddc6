//! "Did you mean": the closest names to a misspelt one.

/// Up to three candidates within a small edit distance of `wanted`,
/// closest first.
pub(crate) fn closest<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let limit = (wanted.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .filter_map(|c| {
            let d = strsim::damerau_levenshtein(wanted, c);
            let prefix = c.starts_with(wanted) || wanted.starts_with(c);
            (d <= limit || (prefix && !wanted.is_empty())).then_some((d, c))
        })
        .collect();
    scored.sort();
    scored.dedup();
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn suggests_close_names_only() {
        let names = ["xhci-pci", "pl011", "sp804", "object"];
        assert_eq!(
            super::closest("xhci-pic", names.into_iter()),
            vec!["xhci-pci"]
        );
        assert_eq!(super::closest("pl01", names.into_iter()), vec!["pl011"]);
        assert!(super::closest("zzzzzzzz", names.into_iter()).is_empty());
    }
}

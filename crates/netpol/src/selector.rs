//! Label selectors (`matchLabels` AND `matchExpressions`) compiled once and matched against labels.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::error::FieldError;

/// One requirement of a selector; a selector matches when every requirement does.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    /// The key is present and its value is one of the listed values (`matchLabels` entries
    /// become `In` with one value).
    In(String, Vec<String>),
    /// The key is absent, or present with a value not listed. A missing key MATCHES `NotIn`,
    /// as in Kubernetes' `labels.Selector`.
    NotIn(String, Vec<String>),
    /// The key is present, whatever its value.
    Exists(String),
    /// The key is absent.
    DoesNotExist(String),
}

/// A compiled label selector. The empty selector (`{}`) matches every label set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// Compiles `selector`, reporting problems under `path` (e.g. `spec.podSelector`).
    ///
    /// Mirrors the API server's validation: the operator must be one of `In`, `NotIn`, `Exists`,
    /// `DoesNotExist` (case-sensitive); `In`/`NotIn` need at least one value; `Exists` and
    /// `DoesNotExist` take none. Every problem is reported, not only the first.
    pub(crate) fn compile(
        selector: &LabelSelector,
        path: &str,
        errors: &mut Vec<FieldError>,
    ) -> Selector {
        let mut requirements = Vec::new();
        // matchLabels and matchExpressions are ANDed: all requirements go into one list.
        for (key, value) in selector.match_labels.iter().flatten() {
            requirements.push(Requirement::In(key.clone(), vec![value.clone()]));
        }
        for (i, expr) in selector.match_expressions.iter().flatten().enumerate() {
            let at = format!("{path}.matchExpressions[{i}]");
            let values = expr.values.clone().unwrap_or_default();
            let key = expr.key.clone();
            if key.is_empty() {
                errors.push(FieldError::new(format!("{at}.key"), "must not be empty"));
            }
            let requirement = match expr.operator.as_str() {
                "In" | "NotIn" if values.is_empty() => {
                    errors.push(FieldError::new(
                        format!("{at}.values"),
                        format!(
                            "must have at least one value when the operator is {}",
                            expr.operator
                        ),
                    ));
                    continue;
                }
                "Exists" | "DoesNotExist" if !values.is_empty() => {
                    errors.push(FieldError::new(
                        format!("{at}.values"),
                        format!("must be empty when the operator is {}", expr.operator),
                    ));
                    continue;
                }
                "In" => Requirement::In(key, values),
                "NotIn" => Requirement::NotIn(key, values),
                "Exists" => Requirement::Exists(key),
                "DoesNotExist" => Requirement::DoesNotExist(key),
                other => {
                    errors.push(FieldError::new(
                        format!("{at}.operator"),
                        format!(
                            "unknown operator {other:?}; allowed: In, NotIn, Exists, DoesNotExist"
                        ),
                    ));
                    continue;
                }
            };
            requirements.push(requirement);
        }
        Selector { requirements }
    }

    /// Whether `labels` satisfies every requirement.
    pub(crate) fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|req| match req {
            Requirement::In(key, values) => labels.get(key).is_some_and(|v| values.contains(v)),
            Requirement::NotIn(key, values) => labels.get(key).is_none_or(|v| !values.contains(v)),
            Requirement::Exists(key) => labels.contains_key(key),
            Requirement::DoesNotExist(key) => !labels.contains_key(key),
        })
    }
}

/// Whether `selector` selects a pod with `labels`, with the API server's semantics; an invalid
/// selector (unknown operator, missing values) is an error naming the field under `path`.
pub fn label_selector_matches(
    selector: &LabelSelector,
    labels: &BTreeMap<String, String>,
    path: &str,
) -> Result<bool, Vec<FieldError>> {
    let mut errors = Vec::new();
    let compiled = Selector::compile(selector, path, &mut errors);
    if errors.is_empty() {
        Ok(compiled.matches(labels))
    } else {
        Err(errors)
    }
}

/// A label set that `selector` selects (the smallest one: matchLabels, the first value of each
/// `In`, a placeholder value for `Exists`), for building synthetic pods. Selectors that no label
/// set satisfies (`In` and `DoesNotExist` on one key) give a set they do not select.
pub fn labels_selected_by(selector: &LabelSelector) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = selector.match_labels.clone().unwrap_or_default();
    for expr in selector.match_expressions.iter().flatten() {
        match expr.operator.as_str() {
            "In" => {
                if let Some(value) = expr.values.as_ref().and_then(|v| v.first()) {
                    labels
                        .entry(expr.key.clone())
                        .or_insert_with(|| value.clone());
                }
            }
            "Exists" => {
                labels
                    .entry(expr.key.clone())
                    .or_insert_with(|| "present".to_string());
            }
            _ => {}
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::Selector;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
    use std::collections::BTreeMap;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn compile(sel: LabelSelector) -> Selector {
        let mut errors = Vec::new();
        let compiled = Selector::compile(&sel, "spec.podSelector", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        compiled
    }

    fn with_exprs(exprs: Vec<LabelSelectorRequirement>) -> Selector {
        compile(LabelSelector {
            match_expressions: Some(exprs),
            match_labels: None,
        })
    }

    #[test]
    fn the_example_labels_of_a_selector_are_selected_by_it() {
        let selector = LabelSelector {
            match_labels: Some(labels(&[("app", "gw")])),
            match_expressions: Some(vec![
                expr("tier", "In", &["edge", "core"]),
                expr("zone", "Exists", &[]),
                expr("debug", "DoesNotExist", &[]),
                expr("team", "NotIn", &["x"]),
            ]),
        };
        let example = super::labels_selected_by(&selector);
        assert_eq!(
            super::label_selector_matches(&selector, &example, "s"),
            Ok(true)
        );
        assert_eq!(
            super::label_selector_matches(&selector, &labels(&[("app", "gw")]), "s"),
            Ok(false)
        );
    }

    #[test]
    fn an_empty_selector_matches_everything() {
        let sel = compile(LabelSelector::default());
        assert!(sel.matches(&labels(&[])));
        assert!(sel.matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn match_labels_require_every_pair() {
        let sel = compile(LabelSelector {
            match_labels: Some(labels(&[("app", "web"), ("tier", "front")])),
            match_expressions: None,
        });
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "front"), ("x", "y")])));
        assert!(!sel.matches(&labels(&[("app", "web")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "back")])));
    }

    #[test]
    fn match_labels_and_match_expressions_are_anded() {
        let sel = compile(LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![expr("tier", "In", &["front"])]),
        });
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "front")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "back")])));
        assert!(!sel.matches(&labels(&[("app", "db"), ("tier", "front")])));
    }

    #[test]
    fn in_requires_the_key_with_a_listed_value() {
        let sel = with_exprs(vec![expr("env", "In", &["prod", "staging"])]);
        assert!(sel.matches(&labels(&[("env", "staging")])));
        assert!(!sel.matches(&labels(&[("env", "dev")])));
        assert!(!sel.matches(&labels(&[])));
    }

    #[test]
    fn a_missing_label_key_matches_not_in() {
        let sel = with_exprs(vec![expr("component", "NotIn", &["backup", "restore"])]);
        assert!(sel.matches(&labels(&[])));
        assert!(sel.matches(&labels(&[("component", "server")])));
        assert!(!sel.matches(&labels(&[("component", "backup")])));
    }

    #[test]
    fn exists_and_does_not_exist_look_only_at_the_key() {
        let exists = with_exprs(vec![expr("k", "Exists", &[])]);
        let absent = with_exprs(vec![expr("k", "DoesNotExist", &[])]);
        assert!(exists.matches(&labels(&[("k", "")])));
        assert!(!exists.matches(&labels(&[("j", "v")])));
        assert!(absent.matches(&labels(&[("j", "v")])));
        assert!(!absent.matches(&labels(&[("k", "v")])));
    }

    #[test]
    fn an_unknown_operator_is_a_load_error_naming_the_field() {
        let mut errors = Vec::new();
        let sel = LabelSelector {
            match_expressions: Some(vec![expr("a", "in", &["x"]), expr("b", "Equals", &["y"])]),
            match_labels: None,
        };
        Selector::compile(&sel, "spec.podSelector", &mut errors);
        assert_eq!(errors.len(), 2);
        assert_eq!(
            errors[0].field,
            "spec.podSelector.matchExpressions[0].operator"
        );
        assert!(errors[1].message.contains("\"Equals\""));
    }

    #[test]
    fn in_without_values_and_exists_with_values_are_load_errors() {
        let mut errors = Vec::new();
        let sel = LabelSelector {
            match_expressions: Some(vec![expr("a", "In", &[]), expr("b", "Exists", &["y"])]),
            match_labels: None,
        };
        Selector::compile(&sel, "p", &mut errors);
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "p.matchExpressions[0].values",
                "p.matchExpressions[1].values"
            ]
        );
    }
}

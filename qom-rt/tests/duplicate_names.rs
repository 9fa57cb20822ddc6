//! Two Rust types registering one QOM name are reported with both names.

use qom_rt::prelude::*;

mod first {
    use qom_rt::prelude::*;
    #[derive(QomObject)]
    #[qom(name = "test-twin")]
    pub struct Twin {
        parent: ParentField<Object>,
    }
    impl ObjectImpl for Twin {}
}

mod second {
    use qom_rt::prelude::*;
    #[derive(QomObject)]
    #[qom(name = "test-twin")]
    pub struct Twin {
        parent: ParentField<Object>,
    }
    impl ObjectImpl for Twin {}
}

#[test]
fn duplicate_type_names_name_both_rust_types() {
    let err = qom_rt::check_registry().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("test-twin"), "{text}");
    assert!(
        text.contains("first::Twin") && text.contains("second::Twin"),
        "{text}"
    );
    assert!(qom_rt::new_by_name("test-twin").is_err());
    // Each type still works when used directly.
    let a = Owned::<first::Twin>::new();
    let b = Owned::<second::Twin>::new();
    assert_eq!(a.type_name(), b.type_name());
}

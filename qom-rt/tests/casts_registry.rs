//! Casts across a 4-level hierarchy and the type registry.

use qom_rt::prelude::*;
use qom_rt::Error;

#[derive(QomObject)]
#[qom(name = "test-animal", abstract)]
struct Animal {
    parent: ParentField<Object>,
}
impl ObjectImpl for Animal {}

#[derive(QomObject)]
#[qom(name = "test-dog")]
struct Dog {
    parent: ParentField<Animal>,
}
impl ObjectImpl for Dog {}

#[derive(QomObject)]
#[qom(name = "test-puppy")]
struct Puppy {
    parent: ParentField<Dog>,
    wag: Prop<u32>,
}
impl ObjectImpl for Puppy {}

#[derive(QomObject)]
#[qom(name = "test-cat")]
struct Cat {
    parent: ParentField<Animal>,
}
impl ObjectImpl for Cat {}

#[test]
fn upcasts_and_downcasts_across_levels() {
    let puppy = Owned::<Puppy>::new();
    let dog: &Dog = puppy.upcast::<Dog>();
    let animal: &Animal = puppy.upcast::<Animal>();
    let object: &Object = puppy.upcast::<Object>();
    assert!(std::ptr::eq(dog.header(), object.header()));
    assert!(std::ptr::eq(animal.header(), object.header()));
    // Back down through every level.
    let back: &Puppy = object.downcast::<Puppy>().expect("a puppy");
    back.wag.set(3);
    assert_eq!(puppy.wag.get(), 3);
    assert!(object.downcast::<Dog>().is_some());
    assert!(object.downcast::<Animal>().is_some());
    assert!(object.downcast::<Cat>().is_none());
    assert!(animal.is_a::<Dog>() && !animal.is_a::<Cat>());
    // Deref reaches parent types too.
    let _: &Dog = &puppy;
    assert_eq!(object.type_name(), "test-puppy");
}

#[test]
fn owned_conversions_keep_one_reference_each() {
    let puppy = Owned::<Puppy>::new();
    let as_object = puppy.clone().into_object();
    let dog = as_object.clone().downcast_owned::<Dog>().expect("is a dog");
    let not_cat = as_object.clone().downcast_owned::<Cat>();
    assert!(not_cat.is_err());
    drop(not_cat);
    assert_eq!(puppy.header().ref_count(), 3);
    let animal: Owned<Animal> = dog.upcast_owned();
    assert_eq!(animal.type_name(), "test-puppy");
    drop(animal);
    drop(as_object);
    assert_eq!(puppy.header().ref_count(), 1);
}

#[test]
fn new_by_name_creates_registered_types() {
    let any = qom_rt::new_by_name("test-puppy").unwrap();
    assert!(any.downcast::<Puppy>().is_some());
    assert_eq!(
        any.downcast::<Animal>().map(|a| a.type_name()),
        Some("test-puppy")
    );
    let info = qom_rt::type_by_name("test-puppy").unwrap();
    assert_eq!(info.depth(), 3);
    assert_eq!(info.parent().unwrap().name(), "test-dog");
}

#[test]
fn new_by_name_reports_unknown_and_abstract_types() {
    match qom_rt::new_by_name("test-pupy") {
        Err(Error::UnknownType { name, suggestions }) => {
            assert_eq!(name, "test-pupy");
            assert_eq!(suggestions.first().map(String::as_str), Some("test-puppy"));
        }
        other => panic!("expected UnknownType, got {other:?}"),
    }
    let err = qom_rt::new_by_name("test-animal").unwrap_err();
    assert_eq!(
        err,
        Error::AbstractType {
            name: "test-animal".into()
        }
    );
    assert!(err.to_string().contains("abstract"));
    assert!(qom_rt::check_registry().is_ok());
}

#[test]
fn registry_lists_types_with_parents() {
    let names: Vec<_> = qom_rt::types().iter().map(|t| t.name()).collect();
    for n in [
        "object",
        "container",
        "test-animal",
        "test-dog",
        "test-puppy",
        "test-cat",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
}

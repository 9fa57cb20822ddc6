//! The derive must never panic: malformed input becomes `compile_error!`.

use quote::quote;

fn expand(tokens: proc_macro2::TokenStream) -> String {
    let input: syn::DeriveInput = syn::parse2(tokens).expect("test input parses as an item");
    crate::derive(&input).to_string()
}

#[test]
fn malformed_inputs_give_errors_not_panics() {
    let cases = [
        quote!(
            enum E {
                A,
            }
        ),
        quote!(union U { a: u32 }),
        quote!(
            struct T(u32);
        ),
        quote!(
            struct U;
        ),
        quote!(
            struct G<T> {
                parent: ParentField<Object>,
                t: T,
            }
        ),
        quote!(
            struct NoParent {
                x: u32,
            }
        ),
        quote!(
            struct Late {
                x: u32,
                parent: ParentField<Object>,
            }
        ),
        quote!(
            struct Two {
                parent: ParentField<Object>,
                other: ParentField<Object>,
            }
        ),
        quote!(
            #[qom(nmae = "x")]
            struct K {
                parent: ParentField<Object>,
            }
        ),
        quote!(
            #[qom(name = 5)]
            struct K {
                parent: ParentField<Object>,
            }
        ),
        quote!(
            #[qom(name = "bad name!")]
            struct K {
                parent: ParentField<Object>,
            }
        ),
        quote!(
            #[qom(name = "")]
            struct K {
                parent: ParentField<Object>,
            }
        ),
        quote!(
            #[qom]
            #[qom]
            struct K {
                parent: ParentField<Object>,
            }
        ),
        quote!(
            #[qom(parent)]
            struct K {
                parent: ParentField<Object>,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child(embeded)]
                c: C,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child(embedded, owned)]
                c: C,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child()]
                c: C,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child]
                c: C,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child = "x"]
                c: C,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child(embedded)]
                #[property]
                c: C,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[property(nam = "x")]
                c: Prop<u32>,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[property(name = "a")]
                a: Prop<u32>,
                #[property(name = "a")]
                b: Prop<u32>,
            }
        ),
        quote!(
            struct K {
                #[child(owned)]
                parent: ParentField<Object>,
            }
        ),
        quote!(
            struct K {
                parent: ParentField,
            }
        ),
        // Shapes found while building the ui-tests catalogue.
        quote!(
            struct K {}
        ),
        quote!(
            struct K<'a> {
                parent: ParentField<Object>,
                r: &'a u8,
            }
        ),
        quote!(
            struct K
            where
                u8: Copy,
            {
                parent: ParentField<Object>,
            }
        ),
        quote!(
            struct K {
                parent: ParentField,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<'static>,
            }
        ),
        quote!(
            struct K {
                x: u8,
                parent: ParentField<Object>,
                y: ParentField<Object>,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child(embedded(owned))]
                c: C,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child(embedded = true)]
                c: C,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child(embedded)]
                #[child(embedded)]
                c: C,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child("embedded")]
                c: C,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child(embedded)]
                c: &'static C,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child(embedded)]
                c: [Owned<C>; 2],
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child(embedded)]
                c: std::sync::Arc<C>,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child(embedded)]
                c: (),
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child(owned)]
                c: C,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child(owned)]
                c: [C; 2],
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child(owned)]
                c: Box<dyn Fn()>,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child(owned)]
                c: *const C,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[child(owned)]
                c: u32,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                c: Owned<C>,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[property]
                c: String,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[property]
                #[property]
                c: Prop<u8>,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[property = 5]
                c: Prop<u8>,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[property(default)]
                c: Prop<u8>,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[property(name = "c")]
                a: Prop<u8>,
                #[child(embedded)]
                c: C,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[property(default = Owned::<Dma>::new())]
                dma: Link<Dma>,
            }
        ),
        quote!(
            #[qom(name = "a", name = "b")]
            struct K {
                parent: ParentField<Object>,
            }
        ),
        quote!(
            #[qom(abstract = true)]
            struct K {
                parent: ParentField<Object>,
            }
        ),
        quote!(
            #[qom(name = "a\u{e9}")]
            struct K {
                parent: ParentField<Object>,
            }
        ),
        quote!(
            #[qom = "k"]
            struct K {
                parent: ParentField<Object>,
            }
        ),
    ];
    for case in cases {
        let text = case.to_string();
        let out = std::panic::catch_unwind(|| expand(case))
            .unwrap_or_else(|_| panic!("derive panicked on `{text}`"));
        assert!(
            out.contains("compile_error"),
            "no error for `{text}`: {out}"
        );
    }
}

#[test]
fn all_errors_of_one_struct_are_reported_together() {
    let out = expand(quote! {
        #[qom(name = "bad name")]
        struct Three { x: u32, #[child(embeded)] c: C }
    });
    assert_eq!(out.matches("compile_error").count(), 3, "{out}");
}

#[test]
fn valid_input_expands_with_qualified_paths_only() {
    let out = expand(quote! {
        #[qom(name = "ok")]
        struct Ok { parent: ParentField<Object>, #[child(embedded)] c: [C; 2], #[child(owned)] o: Owned<D>, #[property(default = 3)] p: Prop<u32> }
    });
    assert!(!out.contains("compile_error"), "{out}");
    assert!(out.contains(":: qom_rt :: ObjectType"));
}

/// The message of the one error `tokens` produce.
fn single_error(tokens: proc_macro2::TokenStream) -> String {
    let out = expand(tokens);
    assert_eq!(out.matches("compile_error").count(), 1, "{out}");
    out
}

#[test]
fn misplaced_pointers_say_what_to_write() {
    let out = single_error(quote! {
        struct K { parent: ParentField<Object>, #[child(embedded)] uhci: Owned<Uhci> }
    });
    assert!(out.contains("`#[child(embedded)] uhci: Uhci`"), "{out}");
    assert!(out.contains("`#[child(owned)] uhci: Owned<Uhci>`"), "{out}");

    let out = single_error(quote! {
        struct K { parent: ParentField<Object>, #[child(embedded)] bars: [Box<Bar>; 2] }
    });
    assert!(out.contains("`#[child(embedded)] bars: Bar`"), "{out}");

    let out = single_error(quote! {
        struct K { parent: ParentField<Object>, #[child(owned)] uhci: std::sync::Arc<Uhci> }
    });
    assert!(out.contains("`#[child(owned)] uhci: Owned<Uhci>`"), "{out}");

    let out = single_error(quote! {
        struct K { parent: ParentField<Object>, #[child(owned)] uhci: hw::Uhci }
    });
    assert!(
        out.contains("`#[child(owned)] uhci: Owned<hw::Uhci>`"),
        "{out}"
    );

    let out = single_error(quote! {
        struct K { parent: ParentField<Object>, uhci: Owned<Uhci> }
    });
    assert!(out.contains("mark it `#[child(owned)]`"), "{out}");

    let out = single_error(quote! {
        struct K { parent: ParentField<Object>, #[property(default = 3)] baud: u32 }
    });
    assert!(out.contains("`baud: Prop<u32>`"), "{out}");
}

#[test]
fn spelling_checks_leave_other_types_to_the_trait_bounds() {
    // Aliases and object types cannot be told apart by their spelling:
    // these expand, and the compiler checks them against the real types.
    let out = expand(quote! {
        struct K {
            parent: ParentField<Object>,
            #[child(embedded)] a: Uhci,
            #[child(embedded)] b: [hw::Uhci; 2],
            #[child(owned)] c: qom_rt::Owned<Uhci>,
            #[property] d: Prop<Mode>,
            #[property] e: Link<Dma>,
            #[property] f: MyProp,
            g: std::sync::Mutex<Option<Owned<Uhci>>>,
        }
    });
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn malformed_migration_attributes_give_errors_not_panics() {
    let objects = [
        quote!(
            #[migrate(version = 0)]
            struct K {
                parent: ParentField<Object>,
            }
        ),
        quote!(
            #[migrate(version = "two")]
            struct K {
                parent: ParentField<Object>,
            }
        ),
        quote!(
            #[migrate]
            #[migrate]
            struct K {
                parent: ParentField<Object>,
            }
        ),
        quote!(
            #[migrate(min_version = 4)]
            struct K {
                parent: ParentField<Object>,
            }
        ),
        quote!(
            struct K {
                #[migrate]
                parent: ParentField<Object>,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[migrate]
                #[child(owned)]
                c: Owned<C>,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[migrate(since = 0)]
                a: A,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[migrate(needed = 5)]
                a: A,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[migrate]
                #[migrate]
                a: A,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[migrate(nope)]
                a: A,
            }
        ),
        quote!(
            struct K {
                parent: ParentField<Object>,
                #[migrate = 3]
                a: A,
            }
        ),
    ];
    for case in objects {
        let out = expand(case);
        assert!(out.contains("compile_error"), "{out}");
    }
    let values = [
        quote!(
            enum E {
                A,
            }
        ),
        quote!(
            struct T(u32);
        ),
        quote!(
            struct G<T> {
                t: T,
            }
        ),
        quote!(
            struct S {
                #[migrate(default = 1)]
                a: u32,
            }
        ),
        quote!(
            struct S {
                #[migrate(since = 0)]
                a: u32,
            }
        ),
        quote!(
            #[migrate(check = 5)]
            struct S {
                a: u32,
            }
        ),
        quote!(
            struct S {
                #[migrate(bogus)]
                a: u32,
            }
        ),
        quote!(
            #[migrate]
            #[migrate]
            struct S {
                a: u32,
            }
        ),
    ];
    for case in values {
        let input: syn::DeriveInput = syn::parse2(case).expect("parses as an item");
        let out = crate::vm_state::derive(&input).to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("VmState for"), "a stub impl: {out}");
    }
}

#[test]
fn migration_expands_only_for_types_with_migrated_state() {
    let plain = expand(quote! {
        struct Plain { parent: ParentField<Object>, x: u32 }
    });
    assert!(!plain.contains("MigratedLevel"), "{plain}");
    let migrated = expand(quote! {
        #[migrate(version = 2)]
        struct Uart { parent: ParentField<Object>, #[migrate] a: A, #[migrate(since = 2, needed = Uart::f)] b: B }
    });
    assert!(!migrated.contains("compile_error"), "{migrated}");
    assert!(migrated.contains("MigratedLevel for Uart"), "{migrated}");
    assert!(migrated.contains(":: qom_rt :: migration :: StateDescription :: __new"));
}

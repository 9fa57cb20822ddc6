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

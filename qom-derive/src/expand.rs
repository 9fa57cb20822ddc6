//! Code generation for a validated input. Everything generated lives in a
//! `const _: () = { ... };` block and names only `::qom_rt::...` and
//! `::core::...` paths, so it does not depend on the user's imports.

use crate::ast::{Field, Input, Role};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

/// Generates the `ObjectType` impl, casts, type info and registration.
pub fn expand(input: &Input<'_>) -> TokenStream {
    let ident = &input.original.ident;
    let (parent_field, parent) = input
        .parent()
        .expect("`check::parent_field` guarantees a parent field");
    let parent_ident = parent_field.ident;
    let rt = quote!(::qom_rt::__private);

    let type_name = input.type_name();
    let is_abstract = input.attrs.is_abstract.is_present();
    let embedded: Vec<&Field> = input
        .fields
        .iter()
        .filter(|f| matches!(f.role, Role::Embedded))
        .collect();
    let children: Vec<&Field> = input.fields.iter().filter(|f| f.role.is_child()).collect();
    let others: Vec<&Field> = input
        .fields
        .iter()
        .filter(|f| matches!(f.role, Role::Plain | Role::Property(_)))
        .collect();

    // Every use of a field's type goes through its role trait
    // (`EmbeddedChild`, `OwnedChild`, `PlainField`, `PropertyField`), as a
    // path spanned on the type: a type that does not fit its role is
    // reported at the field, with the trait's message, and rustc merges
    // the identical reports of each use into one.
    let embedded_count = embedded
        .iter()
        .map(|f| {
            let ty = f.ty;
            quote_spanned!(ty.span()=> <#ty as #rt::EmbeddedChild>::COUNT)
        })
        .collect::<Vec<_>>();
    let embedded_shared = embedded
        .iter()
        .map(|f| {
            let ty = f.ty;
            quote_spanned!(ty.span()=> <#ty as #rt::EmbeddedChild>::SHARED_AT_BIRTH)
        })
        .collect::<Vec<_>>();
    let owned_count = children.len() - embedded.len();
    let has_owned = owned_count > 0;
    let field_ptr = |f: &Field| {
        let name = f.ident;
        quote!(#rt::NonNull::new_unchecked(::core::ptr::addr_of_mut!((*__this.as_ptr()).#name)))
    };

    // Build: embedded children in declaration order, then owned children,
    // properties and plain fields in declaration order. No hook runs; each
    // built field gets an `Undo` guard, so that a panic building a later
    // one unbuilds it, and the guards are forgotten once all are built.
    let build_order: Vec<&Field> = embedded
        .iter()
        .copied()
        .chain(
            input
                .fields
                .iter()
                .filter(|f| matches!(f.role, Role::Owned | Role::Property(_) | Role::Plain)),
        )
        .collect();
    let build = build_order.iter().enumerate().map(|(i, f)| {
        let (ptr, ty) = (field_ptr(f), f.ty);
        let undo = quote::format_ident!("__undo_{}", i);
        let (init, undo_fn) = match &f.role {
            Role::Embedded => (
                quote_spanned!(ty.span()=> <#ty as #rt::EmbeddedChild>::init(#ptr, __header);),
                quote_spanned!(ty.span()=> <#ty as #rt::EmbeddedChild>::unbuild),
            ),
            Role::Owned => (
                quote_spanned!(ty.span()=> <#ty as #rt::OwnedChild>::init(#ptr, __header);),
                quote_spanned!(ty.span()=> <#ty as #rt::OwnedChild>::unbuild),
            ),
            // `Prop<T>` or `Link<T>`, through `qom_rt::__property`: a
            // default must be a value of the property's type (checked
            // there, spanned on the expression); without one, the value
            // type's `Default` (spanned on the field type).
            Role::Property(p) => {
                let prop = quote!(::qom_rt::__property);
                let value = match &p.default {
                    Some(expr) => quote_spanned! {expr.span()=>
                        <_ as #prop::PropertyDefault<
                            <#ty as #prop::PropertyField>::Default,
                        >>::into_value(#expr)
                    },
                    // Every token spanned on the type (not `#prop`'s
                    // call-site span), so a missing `Default` is reported
                    // at the field.
                    None => quote_spanned! {ty.span()=>
                        <<#ty as ::qom_rt::__property::PropertyField>::Default
                            as ::qom_rt::__property::DefaultValue>::default_value()
                    },
                };
                (
                    quote_spanned!(ty.span()=> #ptr.write(<#ty as #prop::PropertyField>::with_default(#value));),
                    quote!(#rt::drop_field::<#ty>),
                )
            }
            Role::Plain => (
                quote_spanned!(ty.span()=> <#ty as #rt::PlainField>::init_in_place(#ptr);),
                quote!(#rt::drop_field::<#ty>),
            ),
            Role::Parent(_) => unreachable!("the parent is built first, apart"),
        };
        quote! {
            #init
            let #undo = #rt::Undo::new(#undo_fn, #ptr);
        }
    });
    let undos = (0..build_order.len()).map(|i| quote::format_ident!("__undo_{}", i));
    // Unbuild: the reverse of the build order, then the parent's levels.
    let unbuild = build_order.iter().rev().map(|f| {
        let (ptr, ty) = (field_ptr(f), f.ty);
        match &f.role {
            Role::Embedded => {
                quote_spanned!(ty.span()=> <#ty as #rt::EmbeddedChild>::unbuild(#ptr);)
            }
            Role::Owned => quote_spanned!(ty.span()=> <#ty as #rt::OwnedChild>::unbuild(#ptr);),
            _ => quote!(#rt::drop_field(#ptr);),
        }
    });
    // Hooks: the parent type's, then each declared child's (declaration
    // order), then this type's own.
    let child_hooks = children.iter().map(|f| {
        let (name, ty) = (f.ident, f.ty);
        match f.role {
            Role::Owned => quote_spanned!(ty.span()=> <#ty as #rt::OwnedChild>::run_init_hooks(&self.#name);),
            _ => quote_spanned!(ty.span()=> <#ty as #rt::EmbeddedChild>::run_init_hooks(&self.#name);),
        }
    });

    // Finalize: hook, plain fields (declaration order), children in reverse
    // declaration order, then the parent type's levels. User code (the
    // hook, each field's `Drop`) runs under `guard`, so a panic does not
    // cut the teardown short.
    let drop_plain = others.iter().map(|f| {
        let ptr = field_ptr(f);
        quote!(__released += #rt::guard(|| #rt::drop_field(#ptr));)
    });
    let release_children = children.iter().rev().map(|f| {
        let (ptr, ty) = (field_ptr(f), f.ty);
        match f.role {
            Role::Owned => quote_spanned!(ty.span()=>
                __released += <#ty as #rt::OwnedChild>::release(#ptr);
            ),
            _ => quote_spanned!(ty.span()=>
                __released += <#ty as #rt::EmbeddedChild>::release(#ptr, __teardown);
            ),
        }
    });

    // Embedded children are released within a `Teardown` of the level.
    let release_children = if embedded.is_empty() {
        quote!(#(#release_children)*)
    } else {
        quote! {
            let __teardown = #rt::Teardown::begin(__this);
            #(#release_children)*
            __released += __teardown.end(__this);
        }
    };

    // Static tables.
    let child_infos = children.iter().map(|f| {
        let name = f.child_name().unwrap_or_default();
        let field = f.ident;
        let ty = f.ty;
        let offset = quote!(::core::mem::offset_of!(#ident, #field));
        match f.role {
            // SAFETY: the offset and type of this very field.
            Role::Owned => {
                let object = quote_spanned!(ty.span()=> <#ty as #rt::OwnedChild>::Object);
                quote!(unsafe { #rt::owned_child_info::<#object>(#name, #offset) })
            }
            // SAFETY: the offset and shape of this very field.
            _ => {
                let shape = quote_spanned!(ty.span()=> <#ty as #rt::EmbeddedChild>::SHAPE);
                quote!(unsafe { #rt::embedded_child_info(#name, #offset, #shape) })
            }
        }
    });
    let property_infos = input.fields.iter().filter_map(|f| {
        let Role::Property(p) = &f.role else {
            return None;
        };
        let name = f.property_name()?;
        let field = f.ident;
        let ty = f.ty;
        let doc = p.doc.clone().unwrap_or_default();
        let default = p.default.as_ref().map(default_text).unwrap_or_default();
        let ops = quote_spanned!(ty.span()=> <#ty as ::qom_rt::__property::PropertyField>::OPS);
        // SAFETY: the offset of this very field, and its type's operations.
        Some(quote! {
            unsafe { #rt::property_info(#name, #doc, #default, ::core::mem::offset_of!(#ident, #field), #ops) }
        })
    });

    let checks = field_checks(input);
    let migration = crate::migration::expand(input);
    let instantiable = if is_abstract {
        quote!()
    } else {
        quote! {
            #[automatically_derived]
            // SAFETY: the type is not `#[qom(abstract)]`.
            unsafe impl ::qom_rt::Instantiable for #ident {}
        }
    };
    let instantiate = if is_abstract {
        quote!(::core::option::Option::None)
    } else {
        quote!(::core::option::Option::Some(#rt::instantiate::<#ident>))
    };
    let rust_name = ident.to_string();
    let classes = classes(input, parent);
    // Abstract types get a class table too: a subtype's default method
    // bodies reach their parent type's implementation through it.
    let init_classes = quote!(::core::option::Option::Some(
        <#ident as ::qom_rt::__Subclassable<#ident>>::__init_classes
    ));

    quote! {
        #[allow(non_upper_case_globals, unused_qualifications, clippy::needless_update)]
        const _: () = {
            #[automatically_derived]
            // SAFETY: generated from the struct definition: the header is
            // reached through the `ParentField` at `offset_of!`, every field
            // is initialised once in `__init_fields` and dropped or released
            // once in `__finalize_levels`, and `field_checks` asserts every
            // field is `Send + Sync`.
            unsafe impl ::qom_rt::ObjectType for #ident {
                type Parent = #parent;
                const TYPE_INFO: &'static ::qom_rt::TypeInfo = &__QOM_TYPE_INFO;
                const HEADER_OFFSET: usize = ::core::mem::offset_of!(#ident, #parent_ident)
                    + <#parent as ::qom_rt::ObjectType>::HEADER_OFFSET;
                const DECLARED_CHILDREN: usize = <#parent as ::qom_rt::ObjectType>::DECLARED_CHILDREN
                    #( + #embedded_count )* + #owned_count;
                const SHARED_AT_BIRTH: bool = <#parent as ::qom_rt::ObjectType>::SHARED_AT_BIRTH
                    || #has_owned #( || #embedded_shared )*;
                const DEPTH: usize = <#parent as ::qom_rt::ObjectType>::DEPTH + 1;

                #[inline(always)]
                fn header(&self) -> &::qom_rt::ObjectHeader {
                    <#parent as ::qom_rt::ObjectType>::header(&self.#parent_ident)
                }

                #[inline(always)]
                unsafe fn __init_fields(__this: #rt::NonNull<Self>, __ctx: #rt::InitContext) {
                    // SAFETY: `__this` is valid for writes of `Self` with the
                    // allocation's provenance, and nothing else can reach it
                    // (caller's contract); each field pointer is a projection
                    // of it, built once, and unbuilt by its guard only if a
                    // later field's build panics.
                    unsafe {
                        let __parent = #rt::NonNull::new_unchecked(
                            ::core::ptr::addr_of_mut!((*__this.as_ptr()).#parent_ident)
                        ).cast::<#parent>();
                        <#parent as ::qom_rt::ObjectType>::__init_fields(__parent, __ctx);
                        let __undo_parent = #rt::Undo::new(
                            <#parent as ::qom_rt::ObjectType>::__unbuild,
                            __parent,
                        );
                        let __header = #rt::header_of(__this);
                        #(#build)*
                        ::core::mem::forget((__undo_parent, #(#undos),*));
                    }
                }

                #[inline(always)]
                unsafe fn __unbuild(__this: #rt::NonNull<Self>) {
                    // SAFETY: built by `__init_fields`, hooks never run,
                    // unreachable and not used again (caller's contract):
                    // each field is unbuilt once, in reverse build order.
                    unsafe {
                        #(#unbuild)*
                        <#parent as ::qom_rt::ObjectType>::__unbuild(
                            #rt::NonNull::new_unchecked(
                                ::core::ptr::addr_of_mut!((*__this.as_ptr()).#parent_ident)
                            ).cast::<#parent>(),
                        );
                    }
                }

                #[inline(always)]
                fn __run_init_hooks(&self) {
                    <#parent as ::qom_rt::ObjectType>::__run_init_hooks(&self.#parent_ident);
                    #(#child_hooks)*
                    <Self as ::qom_rt::ObjectImpl>::init(self);
                }

                #[inline(always)]
                unsafe fn __finalize_levels(__this: #rt::NonNull<Self>) -> usize {
                    // SAFETY: called once by the finalizer with the
                    // allocation's provenance; fields are dropped or released
                    // exactly once and not used afterwards.
                    unsafe {
                        let mut __released: usize =
                            #rt::guard(|| <Self as ::qom_rt::ObjectImpl>::finalize(__this.as_ref()));
                        #(#drop_plain)*
                        #release_children
                        __released + #rt::finalize_parent_level::<#parent>(
                            #rt::NonNull::new_unchecked(
                                ::core::ptr::addr_of_mut!((*__this.as_ptr()).#parent_ident)
                            ).cast::<#parent>(),
                        )
                    }
                }
            }

            #[automatically_derived]
            // SAFETY: every type is a subtype of itself.
            unsafe impl ::qom_rt::IsA<#ident> for #ident {}

            #[automatically_derived]
            #[diagnostic::do_not_recommend]
            // SAFETY: `Self` contains its parent, so every ancestor of the
            // parent is an ancestor of `Self`.
            unsafe impl<__U: ::qom_rt::ObjectType> ::qom_rt::IsA<__U> for #ident
            where
                #parent: ::qom_rt::IsA<__U>,
            {}

            #instantiable

            #[automatically_derived]
            impl ::core::ops::Deref for #ident {
                type Target = #parent;
                #[inline(always)]
                fn deref(&self) -> &#parent {
                    &self.#parent_ident
                }
            }

            // Guard: an object type must not be `Clone`/`Copy` (a copy
            // would duplicate the header and its counts).
            #[automatically_derived]
            impl #rt::ObjectTypesMustNotBeClone for #ident {}

            static __QOM_ANCESTORS: [&'static ::qom_rt::TypeInfo; <#parent as ::qom_rt::ObjectType>::DEPTH + 2] =
                #rt::ancestors(<#parent as ::qom_rt::ObjectType>::TYPE_INFO.ancestors(), &__QOM_TYPE_INFO);

            static __QOM_CLASSES: ::qom_rt::__ClassPtrs<{ <#parent as ::qom_rt::ObjectType>::DEPTH + 2 }> =
                ::qom_rt::__ClassPtrs::build(<#ident as ::qom_rt::__Subclassable<#ident>>::CLASSES);

            // SAFETY: the tables describe `#ident` as the derive read it.
            static __QOM_TYPE_INFO: ::qom_rt::TypeInfo = unsafe { ::qom_rt::TypeInfo::__new::<#ident>(#rt::TypeDef {
                name: #type_name,
                rust_name: ::core::concat!(::core::module_path!(), "::", #rust_name),
                is_abstract: #is_abstract,
                ancestors: &__QOM_ANCESTORS,
                children: &[#(#child_infos),*],
                properties: &[#(#property_infos),*],
                instantiate: #instantiate,
                classes: &__QOM_CLASSES.0,
                init_classes: #init_classes,
            }) };

            #rt::inventory::submit! { #rt::Registration(&__QOM_TYPE_INFO) }

            #classes

            #checks

            #migration
        };
    }
}

/// The class table glue: this type's level of every subtype's table (its
/// parent's level first), its declared class and its interfaces.
fn classes(input: &Input<'_>, parent: &syn::Type) -> TokenStream {
    let ident = &input.original.ident;
    let parent_chain = quote!(<#parent as ::qom_rt::__Subclassable<__T>>::CLASSES);
    let (class_bound, chain, class_impl) = match &input.attrs.class {
        Some(class) => (
            quote_spanned!(class.span()=> #class: ::qom_rt::ClassFor<__T>,),
            quote!(::core::option::Option::Some(const {
                &::qom_rt::__ClassChain::new::<#class>(
                    &<#class as ::qom_rt::ClassFor<__T>>::CLASS,
                    #parent_chain,
                )
            })),
            quote! {
                // SAFETY: this type names the class in `#[qom(class = ...)]`
                // and records it at its depth for every subtype.
                #[automatically_derived]
                unsafe impl ::qom_rt::Class for #class {
                    type Owner = #ident;
                }
            },
        ),
        None => (quote!(), parent_chain, quote!()),
    };
    let interfaces: Vec<&syn::Path> = input
        .attrs
        .interfaces
        .iter()
        .flat_map(|l| l.iter())
        .collect();
    let mut casters = Vec::new();
    let mut add_interfaces = Vec::new();
    for (i, iface) in interfaces.iter().enumerate() {
        let caster = quote::format_ident!("__QOM_CASTER_{}", i);
        let listed_name = iface
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        let id = crate::interface::name_hash(&listed_name);
        // Spanned on the listed path: an interface the type does not
        // implement is reported there, naming the missing trait.
        casters.push(quote_spanned! {iface.span()=>
            static #caster: ::qom_rt::__Caster<dyn #iface> = ::qom_rt::__Caster {
                cast: |object| ::qom_rt::ObjectCast::downcast::<#ident>(object).map(|this| this as &dyn #iface),
            };
            #[automatically_derived]
            impl ::qom_rt::ListedInterface<::qom_rt::__InterfaceMarker<#id>> for #ident {}
            // The marker above is computed from the name as listed: it is the
            // interface's own only if that is the trait's name.
            const _: () = ::core::assert!(
                <dyn #iface as ::qom_rt::Interface>::ID == #id,
                "list a QOM interface by the trait's own name, not an alias of it (`use ... as ...`)"
            );
        });
        add_interfaces.push(quote! {
            table.__add_interface::<dyn #iface>(<dyn #iface as ::qom_rt::Interface>::NAME, &#caster);
        });
    }
    quote! {
        #class_impl
        #(#casters)*

        #[automatically_derived]
        // SAFETY: generated by the derive: adds the parent's levels first,
        // then this type's class and interfaces.
        unsafe impl<__T: ::qom_rt::ObjectType> ::qom_rt::__Subclassable<__T> for #ident
        where
            #parent: ::qom_rt::__Subclassable<__T>,
            #class_bound
        {
            const CLASSES: ::core::option::Option<&'static ::qom_rt::__ClassChain> = #chain;
            fn __init_classes(table: &mut ::qom_rt::ClassTable) {
                <#parent as ::qom_rt::__Subclassable<__T>>::__init_classes(table);
                #(#add_interfaces)*
            }
        }
    }
}

/// Type-level checks, each spanned on the field it is about, in a function
/// that is never called: the compiler reports an unmet bound with the
/// trait's `on_unimplemented` message (what to write instead).
fn field_checks(input: &Input<'_>) -> TokenStream {
    let rt = quote!(::qom_rt::__private);
    let mut checks = Vec::new();
    for field in &input.fields {
        let ty = field.ty;
        let span = ty.span();
        match &field.role {
            Role::Parent(parent) => {
                checks.push(quote_spanned!(parent.span()=> #rt::assert_object_type::<#parent>();));
                // By type, not by the name the derive recognised it by.
                checks.push(quote_spanned!(span=> #rt::assert_parent_field::<#ty, #parent>();));
                if let Some(attr_parent) = &input.attrs.parent {
                    checks.push(quote_spanned!(attr_parent.span()=>
                        #rt::assert_same_parent::<#attr_parent, #parent>();));
                }
                continue;
            }
            // Checked by the uses themselves (see `expand`).
            Role::Embedded | Role::Owned | Role::Plain | Role::Property(_) => {}
        }
        checks.push(quote_spanned!(span=> #rt::assert_thread_safe::<#ty>();));
    }
    quote! {
        #[allow(dead_code)]
        fn __qom_field_checks() {
            #(#checks)*
        }
    }
}

/// The default of a property as `-device TYPE,help` shows it: a string
/// literal's value, or the expression's tokens without the spaces that
/// token printing adds (`Size::mib(16)`, not `Size :: mib (16)`).
fn default_text(expr: &syn::Expr) -> String {
    if let syn::Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Str(text),
        ..
    }) = expr
    {
        return text.value();
    }
    let mut text = quote!(#expr).to_string();
    for (spaced, tight) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" (", "("),
        ("( ", "("),
        (" )", ")"),
        (" ,", ","),
        (" . ", "."),
    ] {
        text = text.replace(spaced, tight);
    }
    match text.strip_prefix("- ") {
        Some(negated) => format!("-{negated}"),
        None => text,
    }
}

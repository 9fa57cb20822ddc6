//! `#[derive(VmState)]`: a struct of migratable fields as one value of
//! the stream. Small enough that its three passes share this file: parse
//! the attributes (`attr` has their grammar), check the rules, expand (or
//! emit a stub on error, as `fallback` does for objects).

use crate::attr::{parse_migrate, VmStateAttr, VmStateFieldAttr};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

struct Field<'a> {
    ident: &'a syn::Ident,
    ty: &'a syn::Type,
    attr: VmStateFieldAttr,
}

/// The whole derive; errors become `compile_error!`s next to a stub impl.
pub fn derive(input: &syn::DeriveInput) -> TokenStream {
    let mut errors = darling::Error::accumulator();
    let attrs: Vec<&syn::Attribute> = input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("migrate"))
        .collect();
    let attr = attrs
        .first()
        .and_then(|a| errors.handle(parse_migrate::<VmStateAttr>(a)))
        .unwrap_or_default();
    for duplicate in attrs.iter().skip(1) {
        errors.push(error(duplicate, "duplicate `#[migrate]` attribute"));
    }
    // A value type is one encoding: a family of generic types would be
    // several, and its bounds are better written by hand.
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        errors.push(error(
            &input.generics,
            "`#[derive(VmState)]` does not take generic structs; implement `qom_rt::migration::VmState` by hand",
        ));
    }
    let mut fields = Vec::new();
    match &input.data {
        syn::Data::Struct(syn::DataStruct {
            fields: syn::Fields::Named(named),
            ..
        }) => {
            for field in &named.named {
                if let Some(field) = parse_field(field, &mut errors) {
                    fields.push(field);
                }
            }
        }
        _ => errors.push(error(
            &input.ident,
            "`#[derive(VmState)]` needs a struct with named fields: the stream carries each field by name",
        )),
    }
    match errors.finish() {
        Ok(()) => expand(input, &attr, &fields),
        Err(errors) => {
            let errors = errors.write_errors();
            let stub = stub(input);
            quote!(#errors #stub)
        }
    }
}

fn error(span: &impl Spanned, message: &str) -> darling::Error {
    darling::Error::custom(message).with_span(&span.span())
}

/// A field's attribute, checked: a field is added at version 1 or later,
/// and only a later one has a default (an older stream lacks it; a
/// first-version field is always there).
fn parse_field<'a>(
    field: &'a syn::Field,
    errors: &mut darling::error::Accumulator,
) -> Option<Field<'a>> {
    let ident = field.ident.as_ref()?;
    let attrs: Vec<&syn::Attribute> = field
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("migrate"))
        .collect();
    for duplicate in attrs.iter().skip(1) {
        errors.push(error(duplicate, "duplicate `#[migrate]` attribute"));
    }
    let attr = attrs
        .first()
        .and_then(|a| errors.handle(parse_migrate::<VmStateFieldAttr>(a)))
        .unwrap_or_default();
    let since = attr.since.as_ref().map_or(1, |s| **s);
    if let Some(s) = attr.since.as_ref().filter(|_| since == 0) {
        errors.push(
            darling::Error::custom(
                "versions start at 1: a field of the first version needs no `since`",
            )
            .with_span(&s.span()),
        );
    }
    if let (Some(default), 1) = (&attr.default, since) {
        errors.push(error(
            default,
            "`default` is the value a field takes from a stream older than it, so it needs `since = N` (a first-version field is always in the stream)",
        ));
    }
    Some(Field {
        ident,
        ty: &field.ty,
        attr,
    })
}

fn expand(input: &syn::DeriveInput, attr: &VmStateAttr, fields: &[Field<'_>]) -> TokenStream {
    let ident = &input.ident;
    let name = ident.to_string();
    let api = quote!(::qom_rt::migration);
    let rt = quote!(::qom_rt::__private::migration);
    let mut descriptions = Vec::new();
    let mut values = Vec::new();
    let mut reads = Vec::new();
    for field in fields {
        let (field_ident, ty) = (field.ident, field.ty);
        let text = field_ident.to_string().trim_start_matches("r#").to_string();
        let since = field.attr.since.as_ref().map_or(1, |s| **s);
        // Spanned on the type: a type without `VmState` is reported at
        // the field.
        let state = quote_spanned!(ty.span()=> <#ty as #api::VmState>);
        descriptions.push(quote! {
            #api::FieldDescription {
                name: #text,
                since: #since,
                subsection: false,
                kind: #state::KIND,
            }
        });
        values.push(quote!((#text, #state::to_value(&self.#field_ident))));
        let default = match (&field.attr.default, since) {
            (Some(expr), _) => quote_spanned!(expr.span()=> || #expr),
            (None, 1) => quote!(|| ::core::unreachable!("a first-version field is always read")),
            (None, _) => quote_spanned!(ty.span()=> <#ty as ::core::default::Default>::default),
        };
        reads.push(quote_spanned!(ty.span()=> #field_ident: __fields.field::<#ty>(#text, #since, #default)?));
    }
    let check = attr.check.as_ref().map(|check| {
        quote_spanned! {check.span()=>
            (#check)(&mut __decoded, __fields.version()).map_err(#api::ValueError::new)?;
        }
    });
    quote! {
        #[allow(unused_qualifications, clippy::needless_update)]
        const _: () = {
            #[automatically_derived]
            impl #api::VmState for #ident {
                const KIND: &'static #api::ValueKind = &#api::ValueKind::Struct(&#api::StructDescription {
                    name: #name,
                    fields: &[#(#descriptions),*],
                });

                fn to_value(&self) -> #api::Value {
                    #rt::struct_value([#(#values),*])
                }

                fn from_value(
                    __value: &#api::Value,
                    __cx: &#api::LoadContext,
                ) -> ::core::result::Result<Self, #api::ValueError> {
                    let mut __fields = #rt::StructReader::new(__value, __cx, #name)?;
                    #[allow(unused_mut)]
                    let mut __decoded = #ident { #(#reads),* };
                    __fields.finish()?;
                    #check
                    ::core::result::Result::Ok(__decoded)
                }
            }
        };
    }
}

/// On invalid input: an impl whose uses add no follow-on errors. Never
/// run: the build fails on the reported errors.
fn stub(input: &syn::DeriveInput) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics ::qom_rt::migration::VmState for #ident #ty_generics #where_clause {
            const KIND: &'static ::qom_rt::migration::ValueKind = &::qom_rt::migration::ValueKind::Bool;
            fn to_value(&self) -> ::qom_rt::migration::Value {
                ::core::unreachable!()
            }
            fn from_value(
                _: &::qom_rt::migration::Value,
                _: &::qom_rt::migration::LoadContext,
            ) -> ::core::result::Result<Self, ::qom_rt::migration::ValueError> {
                ::core::unreachable!()
            }
        }
    }
}

//! Code generation for a validated object type's migrated state: its
//! `StateDescription` (registered by type), and the `MigratedLevel` impl
//! that saves, decodes and restores the `#[migrate]` fields. Part of the
//! expansion (`expand` calls it inside the type's `const _` block).

use crate::ast::{Field, Input, Role};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

/// Nothing unless the type has migrated state.
pub fn expand(input: &Input<'_>) -> TokenStream {
    if !input.migrates() {
        return quote!();
    }
    let ident = &input.original.ident;
    let rt = quote!(::qom_rt::__private::migration);
    let api = quote!(::qom_rt::migration);
    let (version, min_version) = input.migration_versions();
    let fields: Vec<&Field> = input
        .fields
        .iter()
        .filter(|f| !f.migrate_attrs.is_empty())
        .filter(|f| matches!(f.role, Role::Plain | Role::Property(_)))
        .collect();

    // Every use of a field's type goes through `MigrateField`, spanned on
    // the type, so a type that cannot migrate is reported at the field
    // with the trait's message.
    let mut descriptions = Vec::new();
    let mut staged_types = Vec::new();
    let mut saves = Vec::new();
    let mut decodes = Vec::new();
    let mut bindings = Vec::new();
    let mut restores = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let (name, ty) = (field.ident, field.ty);
        let text = name.to_string().trim_start_matches("r#").to_string();
        let since = field.migrate_since();
        let needed = field.migrate.as_ref().and_then(|m| m.needed.as_ref());
        let subsection = needed.is_some();
        let field_trait = quote_spanned!(ty.span()=> <#ty as #api::MigrateField>);
        descriptions.push(quote_spanned! {ty.span()=>
            #api::FieldDescription {
                name: #text,
                since: #since,
                subsection: #subsection,
                kind: <#field_trait::Value as #api::VmState>::KIND,
            }
        });
        staged_types.push(quote!(::core::option::Option<#field_trait::Value>));
        let save = quote!(#field_trait::save(&self.#name));
        saves.push(match needed {
            // Spanned on the path: a predicate of the wrong signature is
            // reported there.
            Some(needed) => quote_spanned! {needed.span()=>
                if (#needed)(self) {
                    __out.subsection(#text, #save);
                }
            },
            None => quote!(__out.field(#text, #save);),
        });
        let read = if subsection {
            quote!(subsection)
        } else {
            quote!(field)
        };
        decodes.push(quote!(__reader.#read(&self.#name, #text, #since)?));
        let binding = quote::format_ident!("__qom_field_{}", i);
        restores.push(quote! {
            if let ::core::option::Option::Some(__value) = #binding {
                #field_trait::restore(&self.#name, __value);
            }
        });
        bindings.push(binding);
    }

    // The impl requires `MigrationHooks`: spanned on the type's
    // `#[migrate]` (or its name), where the missing impl is reported.
    let hooks_span = input
        .migrate_attrs
        .first()
        .map_or_else(|| ident.span(), |a| a.span());
    let level_impl = quote_spanned! {hooks_span=>
        #[automatically_derived]
        impl #rt::MigratedLevel for #ident
    };
    quote! {
        #level_impl {
            type Staged = (#(#staged_types,)*);

            fn save_fields(&self, __out: &mut #rt::LevelWriter) {
                #(#saves)*
            }

            fn decode_fields(
                &self,
                __reader: &mut #rt::LevelReader<'_>,
            ) -> ::core::result::Result<Self::Staged, #api::ValueError> {
                ::core::result::Result::Ok((#(#decodes,)*))
            }

            fn apply_fields(&self, __staged: Self::Staged) {
                let (#(#bindings,)*) = __staged;
                #(#restores)*
            }
        }

        static __QOM_STATE: #api::StateDescription = #api::StateDescription::__new(
            &__QOM_TYPE_INFO,
            #version,
            #min_version,
            &[#(#descriptions),*],
            #rt::LevelOps::of::<#ident>(),
        );

        ::qom_rt::__private::inventory::submit! { #rt::StateRegistration(&__QOM_STATE) }
    }
}

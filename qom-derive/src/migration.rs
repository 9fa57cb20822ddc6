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
    let mut saves = Vec::new();
    let mut decodes = Vec::new();
    let mut restores = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let (name, ty) = (field.ident, field.ty);
        let text = name.to_string().trim_start_matches("r#").to_string();
        let since = field.migrate_since();
        let needed = field.migrate.as_ref().and_then(|m| m.needed.as_ref());
        let subsection = needed.is_some();
        // Literals spanned on the type too: an expression that mixes
        // call-site tokens in is reported at the derive, not the field.
        let mut index = proc_macro2::Literal::usize_unsuffixed(i);
        index.set_span(ty.span());
        let mut since_lit = proc_macro2::Literal::u32_unsuffixed(since);
        since_lit.set_span(ty.span());
        let mut text_lit = proc_macro2::Literal::string(&text);
        text_lit.set_span(ty.span());
        let subsection_lit = syn::LitBool::new(subsection, ty.span());
        // Every token spanned on the type, the trait's path included.
        let field_trait = quote_spanned!(ty.span()=> <#ty as ::qom_rt::migration::MigrateField>);
        descriptions.push(quote_spanned! {ty.span()=>
            #api::FieldDescription {
                name: #text_lit,
                since: #since_lit,
                subsection: #subsection_lit,
                kind: <#field_trait::Value as ::qom_rt::migration::VmState>::KIND,
            }
        });
        let save = quote_spanned!(ty.span()=> #field_trait::save(&self.#name));
        saves.push(match needed {
            // Spanned on the path: a predicate of the wrong signature is
            // reported there.
            Some(needed) => quote_spanned! {needed.span()=>
                if (#needed)(self) {
                    __out.subsection(#text_lit, #save);
                }
            },
            None => quote_spanned!(ty.span()=> __out.field(#text_lit, #save);),
        });
        let read = if subsection {
            quote!(subsection)
        } else {
            quote!(field)
        };
        decodes.push(quote_spanned! {ty.span()=>
            __staged.push(__reader.#read::<#ty>(&self.#name, #text_lit, #since_lit)?);
        });
        restores.push(quote_spanned! {ty.span()=>
            if let ::core::option::Option::Some(__value) = __staged.take::<#field_trait::Value>(#index) {
                #field_trait::restore(&self.#name, __value);
            }
        });
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
    let level_ops = quote_spanned!(hooks_span=> #rt::LevelOps::of::<#ident>());
    quote! {
        #level_impl {
            fn save_fields(&self, __out: &mut #rt::LevelWriter) {
                #(#saves)*
            }

            fn decode_fields(
                &self,
                __reader: &mut #rt::LevelReader<'_>,
            ) -> ::core::result::Result<#rt::Staged, #api::ValueError> {
                #[allow(unused_mut)]
                let mut __staged = #rt::Staged::default();
                #(#decodes)*
                ::core::result::Result::Ok(__staged)
            }

            #[allow(unused_mut, unused_variables)]
            fn apply_fields(&self, mut __staged: #rt::Staged) {
                #(#restores)*
            }
        }

        static __QOM_STATE: #api::StateDescription = #api::StateDescription::__new(
            &__QOM_TYPE_INFO,
            #version,
            #min_version,
            &[#(#descriptions),*],
            #level_ops,
        );

        ::qom_rt::__private::inventory::submit! { #rt::StateRegistration(&__QOM_STATE) }
    }
}

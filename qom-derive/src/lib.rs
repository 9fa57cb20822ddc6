//! `#[derive(QomObject)]` for `qom_rt`.
//!
//! The derive works in three passes, one module each, as `thiserror` and
//! `serde_derive` do: `ast` parses the struct and its attributes (with
//! `darling`, see `attr`), `check` validates the cross-field rules, and
//! `expand` generates the code. Every error is collected and reported in
//! one build, spanned on the offending token; on invalid input `fallback`
//! emits a minimal stub impl so the user sees the real mistake rather than
//! follow-on errors. The generated code names only `::qom_rt::...` and
//! `::core::...` paths.

mod ast;
mod attr;
mod check;
mod expand;
mod fallback;
mod interface;
mod migration;
mod vm_state;

use proc_macro::TokenStream;

/// Derives `qom_rt::ObjectType` and registers the type. See the `qom_rt`
/// crate documentation for the attributes (and `qom_rt::migration` for
/// `#[migrate]`).
#[proc_macro_derive(QomObject, attributes(qom, child, property, migrate))]
pub fn derive_qom_object(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    derive(&input).into()
}

/// Derives `qom_rt::migration::VmState` for a struct with named fields;
/// see `qom_rt::migration::VmState`.
#[proc_macro_derive(VmState, attributes(migrate))]
pub fn derive_vm_state(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    vm_state::derive(&input).into()
}

/// Marks a trait as a QOM interface; see `qom_rt::interface`.
#[proc_macro_attribute]
pub fn interface(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(item as syn::ItemTrait);
    interface::expand(args.into(), item).into()
}

/// The whole derive on a parsed item; errors become `compile_error!`s next
/// to a stub impl. Public to the crate so tests can feed it any input.
fn derive(input: &syn::DeriveInput) -> proc_macro2::TokenStream {
    let mut errors = darling::Error::accumulator();
    let parsed = ast::Input::parse(input, &mut errors);
    if let Err(e) = check::validate(&parsed) {
        errors.push(e);
    }
    match errors.finish() {
        Ok(()) => expand::expand(&parsed),
        Err(errors) => {
            let stub = fallback::stub(input);
            let errors = errors.write_errors();
            quote::quote! { #errors #stub }
        }
    }
}

#[cfg(test)]
mod tests;

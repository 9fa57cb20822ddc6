//! `#[qom_rt::interface]` on a trait: makes it a QOM interface that types
//! list in `#[qom(interfaces(...))]` and that is found at run time with
//! `object.interface::<dyn Trait>()`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// Adds the `ListedInterface` supertrait and implements
/// `qom_rt::Interface` for `dyn Trait`.
pub fn expand(args: TokenStream, mut item: syn::ItemTrait) -> TokenStream {
    if !args.is_empty() {
        return syn::Error::new_spanned(args, "`#[interface]` takes no arguments")
            .to_compile_error();
    }
    if !item.generics.params.is_empty() {
        let error = syn::Error::new_spanned(
            &item.generics,
            "a QOM interface cannot be generic: it is looked up by its one `dyn` type",
        );
        return error.to_compile_error();
    }
    let ident = item.ident.clone();
    let marker = format_ident!("__QomInterfaceMarker{}", ident);
    let name = ident.to_string();
    item.supertraits
        .push(syn::parse_quote!(::qom_rt::ListedInterface<#marker>));
    // Unless the author wrote their own: a type that lists the interface
    // without implementing it is told what to write.
    if !item.attrs.iter().any(is_on_unimplemented) {
        let message = format!("`{{Self}}` does not implement the QOM interface `{name}`");
        let note = format!(
            "write `impl {name} for {{Self}} {{{{ ... }}}}`, or remove `{name}` from the type's `#[qom(interfaces(...))]`"
        );
        let label = format!("`{name}` is not implemented");
        item.attrs.push(syn::parse_quote! {
            #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
        });
    }
    let vis = &item.vis;
    quote! {
        #item

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #marker;

        // SAFETY: the marker type is generated for this trait alone.
        unsafe impl ::qom_rt::Interface for dyn #ident {
            type Marker = #marker;
            const NAME: &'static str = #name;
        }
    }
}

/// Whether `attr` is `#[diagnostic::on_unimplemented(...)]`.
fn is_on_unimplemented(attr: &syn::Attribute) -> bool {
    let path = attr.path();
    path.segments.len() == 2
        && path.segments[0].ident == "diagnostic"
        && path.segments[1].ident == "on_unimplemented"
}

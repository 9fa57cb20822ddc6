//! `#[qom_rt::interface]` on a trait: makes it a QOM interface that types
//! list in `#[qom(interfaces(...))]` and that is found at run time with
//! `object.interface::<dyn Trait>()`.

use proc_macro2::TokenStream;
use quote::quote;

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
    let name = ident.to_string();
    let id = name_hash(&name);
    item.supertraits.push(syn::parse_quote!(
        ::qom_rt::ListedInterface<::qom_rt::__InterfaceMarker<#id>>
    ));
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
    quote! {
        #item

        // SAFETY: implemented by this attribute, with the hash of the
        // trait's name the derive computes for it.
        unsafe impl ::qom_rt::Interface for dyn #ident {
            const NAME: &'static str = #name;
            const ID: u128 = #id;
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

/// The interface marker's id: a 128-bit FNV-1a hash of the trait's name,
/// as an unsuffixed literal. The derive computes the same from the name a
/// type lists, and checks it against the trait's own `Interface::ID`.
pub fn name_hash(name: &str) -> proc_macro2::Literal {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013b;
    let hash = name
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u128::from(b)).wrapping_mul(PRIME));
    proc_macro2::Literal::u128_unsuffixed(hash)
}

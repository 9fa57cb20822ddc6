//! On invalid input, a minimal stub so that uses of the type elsewhere do
//! not add follow-on errors to the real one (as `thiserror`'s fallback).
//! The stub is never run: the build already fails on the reported errors.

use proc_macro2::TokenStream;
use quote::quote;

/// An `ObjectType` impl with `Object` as parent and unreachable bodies.
pub fn stub(input: &syn::DeriveInput) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #[allow(unused_qualifications)]
        const _: () = {
            #[automatically_derived]
            // SAFETY: never instantiated: the derive reported errors, so the
            // crate does not compile.
            unsafe impl #impl_generics ::qom_rt::ObjectType for #ident #ty_generics #where_clause {
                type Parent = ::qom_rt::Object;
                const TYPE_INFO: &'static ::qom_rt::TypeInfo = <::qom_rt::Object as ::qom_rt::ObjectType>::TYPE_INFO;
                const HEADER_OFFSET: usize = 0;
                const DECLARED_CHILDREN: usize = 0;
                const SHARED_AT_BIRTH: bool = false;
                const DEPTH: usize = 1;
                fn header(&self) -> &::qom_rt::ObjectHeader {
                    ::core::unreachable!()
                }
                unsafe fn __init_fields(_: ::qom_rt::__private::NonNull<Self>, _: ::qom_rt::__private::InitContext) {
                    ::core::unreachable!()
                }
                unsafe fn __unbuild(_: ::qom_rt::__private::NonNull<Self>) {
                    ::core::unreachable!()
                }
                fn __run_init_hooks(&self) {}
                unsafe fn __finalize_levels(_: ::qom_rt::__private::NonNull<Self>) -> usize {
                    ::core::unreachable!()
                }
            }
            #[automatically_derived]
            // SAFETY: as above.
            unsafe impl #impl_generics ::qom_rt::IsA<::qom_rt::Object> for #ident #ty_generics #where_clause {}
            #[automatically_derived]
            // SAFETY: as above.
            unsafe impl #impl_generics ::qom_rt::Instantiable for #ident #ty_generics #where_clause {}
            #[automatically_derived]
            // SAFETY: as above.
            unsafe impl<__T: ::qom_rt::ObjectType> ::qom_rt::__Subclassable<__T> for #ident {
                const CLASSES: ::core::option::Option<&'static ::qom_rt::__ClassChain> = ::core::option::Option::None;
                fn __init_classes(_: &mut ::qom_rt::ClassTable) {}
            }
        };
    }
}

//! [`HeaderParam`]: the argument types a tool may mirror into an `Mcp-Param-{Name}` header
//! (2026-07-28, SEP-2243).

/// An argument type that `#[arg(header = "Name")]` may mirror into an `Mcp-Param-{Name}` header:
/// a string, an integer or a boolean, or an `Option` of one.
///
/// The specification (basic/transports/streamable-http, "Custom Headers from Tool Parameters")
/// allows `x-mcp-header` only on primitive parameters of type `string`, `integer` or `boolean`;
/// `number` is not permitted, and neither are objects or arrays.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be mirrored into an `Mcp-Param-*` header",
    label = "not a string, an integer or a boolean",
    note = "`#[arg(header = \"...\")]` applies only to `String`, `bool`, the integer types, or an `Option` of one (SEP-2243: no `number`, objects or arrays)"
)]
pub trait HeaderParam {}

impl HeaderParam for String {}
impl HeaderParam for bool {}
impl HeaderParam for i8 {}
impl HeaderParam for i16 {}
impl HeaderParam for i32 {}
impl HeaderParam for i64 {}
impl HeaderParam for isize {}
impl HeaderParam for u8 {}
impl HeaderParam for u16 {}
impl HeaderParam for u32 {}
impl HeaderParam for u64 {}
impl HeaderParam for usize {}
impl<T: HeaderParam> HeaderParam for Option<T> {}

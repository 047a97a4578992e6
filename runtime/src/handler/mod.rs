//! What every handler (tool, resource or prompt) is built from: its parameters' descriptors,
//! the context of the request it serves, the extraction of its parameters (arguments and
//! extractors), and the future it returns. Re-exported at their public paths by `tool`.
//!
//! A parameter is either a JSON *argument* (any `Deserialize + JsonSchema` type, through a
//! blanket impl of [`ToolParam`]) or an *extractor* ([`Principal`](crate::Principal),
//! [`State<T>`], [`RequestContext`], `Downstream`) with an impl of its own. The trait system tells them apart:
//! the macro never looks at a type's name.

mod context;
#[cfg(feature = "http")]
mod downstream;
#[cfg(feature = "http")]
mod downstream_parts;
mod error;
mod extract;
mod future;
mod header_param;
mod input;
mod lazy_context;
mod meta;
mod param;
mod step_up;

pub(crate) use self::context::Link;
pub use self::context::{Input, RequestContext};
#[cfg(feature = "http")]
pub use self::downstream::{Downstream, DownstreamError, DownstreamReason};
#[cfg(feature = "http")]
pub(crate) use self::downstream_parts::DownstreamParts;
pub use self::error::ToolError;
pub use self::extract::{CallParts, FromRef, State, ToolParam, ToolParamKind};
pub(crate) use self::future::panic_message;
pub use self::future::{HandlerFuture, Rejected};
pub use self::header_param::HeaderParam;
pub(crate) use self::input::{Answer, DeferredBind, InputKind, InputRound, TaskInputs};
pub(crate) use self::lazy_context::LazyContext;
pub(crate) use self::meta::RequestMeta;
pub use self::param::{ArgSchema, ParamDef};
pub(crate) use self::step_up::{Refused, StepUp};

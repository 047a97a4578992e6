//! [`Method`]: a JSON-RPC method name, parsed once. MCP's own methods are variants, matched
//! as values everywhere else, so that no other module compares method names as text; any other
//! name is kept as sent (a request for it is answered "method not found").

use std::fmt;
use std::ops::Deref;

/// The methods of MCP, as variants and as the names on the wire.
macro_rules! methods {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// A JSON-RPC method: one of MCP's, or another name as sent.
        ///
        /// It reads as the name (`Deref<Target = str>`, `Display`, `== "tools/call"`), so code
        /// that only needs the text keeps it; code that decides by method matches variants.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Method {
            $($(#[$doc])* $variant,)*
            /// A name that is none of MCP's.
            Other(Box<str>),
        }

        impl Method {
            /// The method `name` names. The methods of MCP allocate nothing.
            #[must_use]
            pub fn parse(name: &str) -> Self {
                match name {
                    $($name => Self::$variant,)*
                    other => Self::Other(other.into()),
                }
            }

            /// The name on the wire.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $name,)*
                    Self::Other(name) => name,
                }
            }
        }

        #[cfg(test)]
        const ALL: &[Method] = &[$(Method::$variant,)*];
    };
}

methods! {
    // Client to server: requests.
    /// `initialize` (the legacy handshake).
    Initialize = "initialize",
    /// `ping`.
    Ping = "ping",
    /// `server/discover` (2026-07-28).
    ServerDiscover = "server/discover",
    /// `logging/setLevel`.
    SetLogLevel = "logging/setLevel",
    /// `tools/list`.
    ListTools = "tools/list",
    /// `tools/call`.
    CallTool = "tools/call",
    /// `resources/list`.
    ListResources = "resources/list",
    /// `resources/templates/list`.
    ListResourceTemplates = "resources/templates/list",
    /// `resources/read`.
    ReadResource = "resources/read",
    /// `resources/subscribe`.
    Subscribe = "resources/subscribe",
    /// `resources/unsubscribe`.
    Unsubscribe = "resources/unsubscribe",
    /// `prompts/list`.
    ListPrompts = "prompts/list",
    /// `prompts/get`.
    GetPrompt = "prompts/get",
    /// `completion/complete`.
    Complete = "completion/complete",
    /// `subscriptions/listen` (2026-07-28): a long-lived stream of the notifications the
    /// client opts in to.
    Listen = "subscriptions/listen",
    /// `tasks/get` (the 2026-07-28 tasks extension): a task's status, and its result once done.
    GetTask = "tasks/get",
    /// `tasks/update` (tasks extension): answers to a task's input requests.
    UpdateTask = "tasks/update",
    /// `tasks/cancel` (tasks extension).
    CancelTask = "tasks/cancel",
    // Client to server: notifications.
    /// `notifications/initialized`.
    Initialized = "notifications/initialized",
    /// `notifications/cancelled` (either way).
    Cancelled = "notifications/cancelled",
    /// `notifications/progress` (either way).
    Progress = "notifications/progress",
    /// `notifications/roots/list_changed`.
    RootsListChanged = "notifications/roots/list_changed",
    // Server to client.
    /// `notifications/message`: a log message.
    LogMessage = "notifications/message",
    /// `notifications/resources/updated`.
    ResourceUpdated = "notifications/resources/updated",
    /// `notifications/subscriptions/acknowledged` (2026-07-28): the first message of a
    /// `subscriptions/listen` stream.
    SubscriptionAcknowledged = "notifications/subscriptions/acknowledged",
    /// `notifications/tasks` (tasks extension): a task's state, on a listen stream.
    TaskStatus = "notifications/tasks",
    /// `sampling/createMessage`.
    CreateMessage = "sampling/createMessage",
    /// `elicitation/create`.
    Elicit = "elicitation/create",
    /// `roots/list`.
    ListRoots = "roots/list",
}

impl Method {
    /// Whether this is one of MCP's methods (of any direction), not another name.
    #[must_use]
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Other(_))
    }
}

impl Deref for Method {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Method {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Method {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Method {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_to_its_variant_and_back() {
        for method in ALL {
            assert!(method.is_known());
            assert_eq!(Method::parse(method.as_str()), *method);
            assert_eq!(method.to_string(), method.as_str());
        }
        let names: std::collections::HashSet<&str> = ALL.iter().map(Method::as_str).collect();
        assert_eq!(names.len(), ALL.len(), "two variants share a name");
    }

    #[test]
    fn other_names_are_kept_as_sent() {
        for name in ["tools/calls", "Tools/call", "x/y", "", "tools/call "] {
            let method = Method::parse(name);
            assert_eq!(method, Method::Other(name.into()));
            assert!(!method.is_known());
            assert_eq!(&*method, name);
        }
    }
}

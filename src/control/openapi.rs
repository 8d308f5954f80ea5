//! The OpenAPI 3.1 document of the terminated endpoints. The router declares each route's
//! operations next to its handler (`api::router`), so the document lists exactly the paths
//! this config serves, renamed or disabled as configured; a test checks that every documented
//! method is routed and every other method is 405.

use super::schemas;
use http::Method;
use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, HttpMethod, InfoBuilder, ObjectBuilder, OpenApi,
    OpenApiBuilder, Paths, Ref, RefOr, Required, ResponseBuilder, ResponsesBuilder, Schema,
    SecurityRequirement, Type,
};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Public,
    /// A session: Bearer token or session cookie.
    Session,
    /// The OAuth refresh cookie.
    Refresh,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    /// A JSON object of the named schema.
    Json(&'static str),
    /// An HTML form.
    Form,
    /// A file upload.
    Multipart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// JSON of the named schema.
    Json(&'static str),
    /// A JWT as a JSON string.
    Token,
    /// A count, or `true`.
    Scalar,
    /// Some JSON whose shape depends on the provider or state.
    AnyJson,
    Html,
    /// A JWK set (`application/jwk-set+json`).
    JwkSet,
    /// 302/303 to another page.
    Redirect,
    Image,
}

/// One method on one path.
#[derive(Debug, Clone)]
pub struct Op {
    pub method: Method,
    tag: &'static str,
    summary: &'static str,
    auth: Auth,
    body: Body,
    answer: Answer,
    query: &'static [&'static str],
}

impl Op {
    pub const fn new(method: Method, tag: &'static str, summary: &'static str) -> Op {
        Op {
            method,
            tag,
            summary,
            auth: Auth::Public,
            body: Body::None,
            answer: Answer::AnyJson,
            query: &[],
        }
    }
    pub const fn auth(mut self, auth: Auth) -> Op {
        self.auth = auth;
        self
    }
    pub const fn body(mut self, body: Body) -> Op {
        self.body = body;
        self
    }
    pub const fn answer(mut self, answer: Answer) -> Op {
        self.answer = answer;
        self
    }
    pub const fn query(mut self, query: &'static [&'static str]) -> Op {
        self.query = query;
        self
    }
}

/// The operations the router registered, by path.
#[derive(Debug, Default)]
pub struct Doc {
    pub ops: Vec<(String, Op)>,
}

fn http_method(m: &Method) -> HttpMethod {
    match *m {
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        Method::HEAD => HttpMethod::Head,
        Method::OPTIONS => HttpMethod::Options,
        _ => HttpMethod::Get,
    }
}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn json_content(schema: RefOr<Schema>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn string_schema() -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new().schema_type(Type::String).build(),
    ))
}

fn any_schema() -> RefOr<Schema> {
    RefOr::T(Schema::Object(ObjectBuilder::new().build()))
}

impl Doc {
    pub fn record(&mut self, path: &str, ops: &[Op]) {
        self.ops
            .extend(ops.iter().map(|o| (path.to_string(), o.clone())));
    }

    /// The OpenAPI document, with `public_url` as the server.
    pub fn openapi(&self, public_url: &str, cookie_name: &str, refresh_cookie: &str) -> OpenApi {
        let mut paths = Paths::new();
        for (path, op) in &self.ops {
            paths.add_path_operation(path, vec![http_method(&op.method)], operation(path, op));
        }
        let components = ComponentsBuilder::new()
            .schema_from::<schemas::Error>()
            .schema_from::<schemas::User>()
            .schema_from::<schemas::UserEnvelope>()
            .schema_from::<schemas::Message>()
            .schema_from::<schemas::Pagination>()
            .schema_from::<schemas::UserPage>()
            .schema_from::<schemas::Login>()
            .schema_from::<schemas::CookieLogin>()
            .schema_from::<schemas::Credentials>()
            .schema_from::<schemas::ProfilePatch>()
            .schema_from::<schemas::NewUser>()
            .schema_from::<schemas::UserPatch>()
            .schema_from::<schemas::MePatch>()
            .schema_from::<schemas::PasswordChange>()
            .schema_from::<schemas::Email>()
            .schema_from::<schemas::Reset>()
            .schema_from::<schemas::Register>()
            .schema_from::<schemas::MagicRequest>()
            .schema_from::<schemas::Code>()
            .schema_from::<schemas::TokenPair>()
            .schema_from::<schemas::Session>()
            .schema_from::<schemas::SignedIn>()
            .schema_from::<schemas::JwkSet>()
            .schema_from::<schemas::MfaTokenOpt>()
            .schema_from::<schemas::MfaCode>()
            .schema_from::<schemas::MfaVerify>()
            .schema_from::<schemas::PasskeyName>()
            .schema_from::<schemas::PasskeyLogin>()
            .schema_from::<schemas::AnyObject>()
            .schema_from::<schemas::NewApiKey>()
            .security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            )
            .security_scheme(
                "cookie",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(cookie_name))),
            )
            .security_scheme(
                "refresh",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(refresh_cookie))),
            )
            .build();
        let mut doc = OpenApiBuilder::new()
            .info(
                InfoBuilder::new()
                    .title("Portcullis auth API")
                    .version(env!("CARGO_PKG_VERSION"))
                    .description(Some(
                        "The endpoints the gateway terminates itself. Every error is `Error`.",
                    ))
                    .build(),
            )
            .paths(paths)
            .components(Some(components))
            .build();
        doc.servers = Some(vec![utoipa::openapi::Server::new(public_url)]);
        doc
    }
}

fn operation(path: &str, op: &Op) -> utoipa::openapi::path::Operation {
    let mut b = OperationBuilder::new()
        .tag(op.tag)
        .summary(Some(op.summary))
        .operation_id(Some(format!(
            "{}{}",
            op.method.as_str().to_ascii_lowercase(),
            path.replace(['/', '{', '}', '.', '-'], "_")
        )));
    // Path parameters, from `{name}` segments.
    for seg in path.split('/') {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            b = b.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(string_schema())),
            );
        }
    }
    for q in op.query {
        b = b.parameter(
            ParameterBuilder::new()
                .name(*q)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .schema(Some(string_schema())),
        );
    }
    b = match op.body {
        Body::None => b,
        Body::Json(name) => b.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", json_content(reference(name)))
                .build(),
        )),
        Body::Form => b.request_body(Some(
            RequestBodyBuilder::new()
                .content(
                    "application/x-www-form-urlencoded",
                    json_content(any_schema()),
                )
                .build(),
        )),
        Body::Multipart => b.request_body(Some(
            RequestBodyBuilder::new()
                .content("multipart/form-data", json_content(any_schema()))
                .build(),
        )),
    };
    match op.auth {
        Auth::Public => {}
        Auth::Session => {
            b = b
                .security(SecurityRequirement::new::<_, _, &str>("bearer", []))
                .security(SecurityRequirement::new::<_, _, &str>("cookie", []));
        }
        Auth::Refresh => {
            b = b.security(SecurityRequirement::new::<_, _, &str>("refresh", []));
        }
    }
    let ok = ResponseBuilder::new().description("Success");
    let ok = match op.answer {
        Answer::Json(name) => ok.content("application/json", json_content(reference(name))),
        Answer::Token => ok.content("application/json", json_content(string_schema())),
        Answer::Scalar | Answer::AnyJson => {
            ok.content("application/json", json_content(any_schema()))
        }
        Answer::Html => ok.content("text/html", ContentBuilder::new().build()),
        Answer::JwkSet => ok.content(
            "application/jwk-set+json",
            json_content(reference("JwkSet")),
        ),
        Answer::Image => ok
            .content("image/png", ContentBuilder::new().build())
            .content("image/jpeg", ContentBuilder::new().build())
            .content("image/webp", ContentBuilder::new().build()),
        Answer::Redirect => ok,
    };
    let redirect = || ResponseBuilder::new().description("To the next page");
    // Any failure is the one error shape; pages show an HTML page for some of them.
    let mut error = ResponseBuilder::new()
        .description("An error: statusCode, statusMessage, message, error (and data)")
        .content("application/json", json_content(reference("Error")));
    if matches!(op.answer, Answer::Html | Answer::Redirect) {
        error = error.content("text/html", ContentBuilder::new().build());
    }
    let responses = ResponsesBuilder::new()
        .response("200", ok)
        .response("302", redirect())
        .response("303", redirect())
        .response("default", error);
    b.responses(responses).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_become_operations_with_path_parameters_and_security() {
        let mut d = Doc::default();
        d.record(
            "/api/users/{id}",
            &[Op::new(Method::GET, "users", "One user")
                .auth(Auth::Session)
                .answer(Answer::Json("UserEnvelope"))],
        );
        let v = serde_json::to_value(d.openapi("https://gw.example", "sid", "r")).unwrap();
        let get = &v["paths"]["/api/users/{id}"]["get"];
        assert_eq!(get["parameters"][0]["name"], "id");
        assert_eq!(get["parameters"][0]["in"], "path");
        assert_eq!(get["security"][0]["bearer"], serde_json::json!([]));
        assert_eq!(
            get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/UserEnvelope"
        );
        assert_eq!(v["components"]["securitySchemes"]["cookie"]["name"], "sid");
        assert!(v["components"]["schemas"]["Error"].is_object());
    }
}

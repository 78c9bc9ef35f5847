// Per-account client configuration: a plain aggregate with defaults, loaded from TOML and environment.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace nubefact {

// Token bucket: `requests_per_second` sustained, `burst` extra requests allowed at once, and at
// least `min_interval` between two requests (0 = no spacing). rate <= 0 disables the limiter.
struct rate_config {
    double requests_per_second = 10.0;
    int burst = 10;
    std::chrono::milliseconds min_interval{0};
};

// Exponential backoff with full jitter: delay = uniform(0, min(cap, base * 2^(attempt-1))).
// No new attempt starts after `total_deadline` measured from the first attempt.
struct retry_config {
    int max_attempts = 5;
    std::chrono::milliseconds base{200};
    std::chrono::milliseconds cap{10'000};
    std::chrono::milliseconds total_deadline{120'000};
};

// How the token is put in the Authorization header (the fact sheet lists several in use).
enum class auth_scheme {
    bare,         // Authorization: <token>             (the manual)
    token_token,  // Authorization: Token token="<token>"  (Nubefact's own C# sample, many clients)
};

// One Nubefact account. Every field has a default except ruta and token.
struct account_config {
    std::string name = "default";
    std::string ruta;   // https://api.nubefact.com/api/v1/<id> (http:// allowed)
    std::string token;  // never logged, never in errors or audit records
    auth_scheme auth = auth_scheme::bare;
    rate_config rate;
    int max_concurrency = 8;  // requests in flight for this account in this process; caps connections
    std::chrono::milliseconds connect_timeout{10'000};  // resolve + TCP + TLS handshake
    std::chrono::milliseconds request_timeout{60'000};  // one attempt: write + read of the response
    std::chrono::milliseconds total_timeout{180'000};   // one call: queueing, retries, reconciliation
    std::chrono::milliseconds idle_timeout{15'000};     // keep-alive connections idle longer are closed
    retry_config retry;
    // TLS peer verification (on by default, system CA bundle). Turning it off requires this loudly
    // named option and logs a warning at every client start.
    bool danger_disable_tls_verification = false;
    std::string ca_file;                        // extra CA bundle (PEM) trusted in addition to the system's
    bool audit_bodies = false;                  // store request/response bodies in audit records
    bool validate = true;                       // run fiscal::check before sending (per call opt-out too)
    std::size_t max_response_bytes = 8u << 20;  // larger responses are a transport error
};

// A configuration problem at start-up: names the source and the key ("nubefact.toml: accounts.main.rate").
class config_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Parses "250ms", "10s", "2m", "1h" or a bare integer (milliseconds). Throws config_error.
std::chrono::milliseconds parse_duration(std::string_view text);

// Reads accounts from a TOML document. Layout:
//   [defaults]          optional; any account key, applied to every account
//   [accounts.<name>]   one table per account (ruta, token, rate, burst, min_interval, ...)
// A file without [accounts] but with a top-level ruta is one account named "default".
// Unknown keys and out-of-range values are errors. Throws config_error with the key path.
std::vector<account_config> load_accounts_toml(std::string_view toml_text, std::string_view source = "toml");
std::vector<account_config> load_accounts_file(const std::string& path);

// Environment lookup, injectable for tests (returns nullopt when unset).
using env_lookup = std::function<std::optional<std::string>(const char*)>;
env_lookup process_env();

// Applies NUBEFACT_* variables on top of `cfg` (environment wins over the file): one per TOML key
// (docs/client.md lists them: NUBEFACT_RUTA, NUBEFACT_TOKEN, NUBEFACT_RATE, NUBEFACT_CONCURRENCY,
// NUBEFACT_MAX_RESPONSE_BYTES, NUBEFACT_DANGER_DISABLE_TLS_VERIFICATION, …). Throws config_error
// naming the variable on a bad or out-of-range value (never showing a token).
void apply_env(account_config& cfg, const env_lookup& env = process_env());

// The documented order: defaults < TOML file (when path is non-empty) < environment. Picks the
// account named `account` (or NUBEFACT_ACCOUNT, or the only/first one). Throws config_error.
account_config load_account(const std::string& toml_path, const std::string& account = {},
                            const env_lookup& env = process_env());

// Throws config_error when the configuration cannot work (no ruta, no token, bad numbers).
void validate_config(const account_config& cfg);

}  // namespace nubefact

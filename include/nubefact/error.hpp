// Error codes of nubefact: Nubefact's own `codigo` values, client, store and decimal failures.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <optional>
#include <string>
#include <type_traits>

namespace nubefact {

using boost::system::error_code;

// Expected failures are values: result<T> holds a T or an error_code.
template <class T>
using result = boost::system::result<T, error_code>;

// Nubefact's `codigo` in an error body (§10 of the fact sheet). The value is the codigo itself.
enum class api_errc {
    token_invalid = 10,         // 10: token wrong or deleted
    ruta_invalid = 11,          // 11: RUTA (URL) wrong or unknown
    content_type = 12,          // 12: missing or wrong Content-Type
    bad_format = 20,            // 20: body does not match the established format
    operation_failed = 21,      // 21: could not be completed (message explains)
    out_of_period = 22,         // 22: sent outside the allowed period
    already_exists = 23,        // 23: "Este documento ya existe en NubeFacT"
    not_found = 24,             // 24: document does not exist in Nubefact
    internal = 40,              // 40: unknown internal error
    account_suspended = 50,     // 50: account suspended
    suspended_nonpayment = 51,  // 51: suspended for non-payment
};
const boost::system::error_category& api_category() noexcept;
inline error_code make_error_code(api_errc e) noexcept {
    return {static_cast<int>(e), api_category()};
}
// Nubefact's own text for a codigo ("Este documento ya existe en NubeFacT"), as its manual gives it:
// what the emulator and the gateway's drop-in API answer. Empty for 21 and 22, whose text explains
// the case.
std::string_view api_message(api_errc e) noexcept;
// The HTTP status Nubefact answers a codigo with (fact sheet §10, best evidence): 401 for 10 and 11,
// 403 for 50 and 51, 500 for 40, 400 otherwise.
int api_http_status(api_errc e) noexcept;
// True for a codigo this library knows (10, 11, 12, 20-24, 40, 50, 51).
bool is_known_api_codigo(int codigo) noexcept;
// Whether an answer's codigo (absent when it had none) is `e`: how code compares codigos, never
// with the bare number.
constexpr bool codigo_is(const std::optional<int>& codigo, api_errc e) noexcept {
    return codigo && *codigo == static_cast<int>(e);
}
// True for a codigo about the account rather than the document (10 token, 11 ruta, 50/51 suspended):
// every other document of that account would get the same answer.
bool is_account_codigo(int codigo) noexcept;

// Failures seen by the client before or around Nubefact's answer.
enum class client_errc {
    timeout = 1,        // connect, request or total deadline passed
    transport,          // connection refused, reset, TLS failure, truncated response
    http_status,        // unexpected HTTP status without a Nubefact error body
    bad_response,       // 200 whose body is not the documented JSON
    validation,         // local fiscal::check found errors; nothing was sent
    conflict,           // Nubefact holds a different document under this number
    cancelled,          // the caller or shutdown cancelled the operation
    retries_exhausted,  // retry budget (attempts or total deadline) used up
    tls_verify,         // peer certificate verification failed
    rate_limited,       // 429/503 after the retry budget
    journal,            // intent journal refused or failed to record the intent
    payload_changed,    // journaled before with another payload, and Nubefact may hold it: not sent
    account_stopped,    // not sent: an account-level answer (codigo 10/11/50/51) stopped the account
    held_elsewhere,     // not sent: another live sender holds the document's claim (it sends it)
};
const boost::system::error_category& client_category() noexcept;
inline error_code make_error_code(client_errc e) noexcept {
    return {static_cast<int>(e), client_category()};
}

// Failures of the persistent store (SQLite or PostgreSQL).
enum class store_errc {
    open_failed = 1,
    migration_failed,
    query_failed,
    constraint,  // unique key or check violated
    not_found,
    busy,  // database locked / serialization failure after retries
    bad_url,
    crypto,  // token encryption or decryption failed (wrong NUBEFACT_SECRET_KEY)
    closed,
    // What the database said of its storage, so that a failure names its cause by itself:
    disk_full,  // no space left (SQLITE_FULL, SQLSTATE 53100)
    io_error,   // the disk refused a read or write (SQLITE_IOERR, SQLSTATE 58030; also a file size limit)
    read_only,  // the file or the server is read-only (SQLITE_READONLY, SQLSTATE 25006)
    corrupt,    // the file is not a database or is damaged (SQLITE_CORRUPT/NOTADB, SQLSTATE XX001)
    missing,    // no SQLite file at the path, and store_options::create_if_missing was false
};
const boost::system::error_category& store_category() noexcept;
inline error_code make_error_code(store_errc e) noexcept {
    return {static_cast<int>(e), store_category()};
}

// Failures of exact decimal parsing and arithmetic.
enum class decimal_errc {
    syntax = 1,       // not a number
    too_many_digits,  // more than 12 integer or 10 fractional digits
    overflow,         // arithmetic result out of range
    division_by_zero,
};
const boost::system::error_category& decimal_category() noexcept;
inline error_code make_error_code(decimal_errc e) noexcept {
    return {static_cast<int>(e), decimal_category()};
}

}  // namespace nubefact

template <>
struct boost::system::is_error_code_enum<nubefact::api_errc> : std::true_type {};
template <>
struct boost::system::is_error_code_enum<nubefact::client_errc> : std::true_type {};
template <>
struct boost::system::is_error_code_enum<nubefact::store_errc> : std::true_type {};
template <>
struct boost::system::is_error_code_enum<nubefact::decimal_errc> : std::true_type {};

// Error categories for api_errc, client_errc, store_errc and decimal_errc.
#include <nubefact/error.hpp>

namespace nubefact {
namespace {

class api_cat final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "nubefact.api"; }
    std::string message(int ev) const override {
        switch (static_cast<api_errc>(ev)) {
            case api_errc::token_invalid:
                return "codigo 10: token wrong or deleted";
            case api_errc::ruta_invalid:
                return "codigo 11: RUTA (URL) wrong or unknown";
            case api_errc::content_type:
                return "codigo 12: missing or wrong Content-Type";
            case api_errc::bad_format:
                return "codigo 20: body does not match the established format";
            case api_errc::operation_failed:
                return "codigo 21: operation could not be completed";
            case api_errc::out_of_period:
                return "codigo 22: document sent outside the allowed period";
            case api_errc::already_exists:
                return "codigo 23: document already exists in Nubefact";
            case api_errc::not_found:
                return "codigo 24: document does not exist in Nubefact";
            case api_errc::internal:
                return "codigo 40: Nubefact internal error";
            case api_errc::account_suspended:
                return "codigo 50: account suspended";
            case api_errc::suspended_nonpayment:
                return "codigo 51: account suspended for non-payment";
        }
        return "codigo " + std::to_string(ev) + ": unknown Nubefact error";
    }
};

class client_cat final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "nubefact.client"; }
    std::string message(int ev) const override {
        switch (static_cast<client_errc>(ev)) {
            case client_errc::timeout:
                return "timed out";
            case client_errc::transport:
                return "transport error";
            case client_errc::http_status:
                return "unexpected HTTP status";
            case client_errc::bad_response:
                return "malformed response from Nubefact";
            case client_errc::validation:
                return "document failed local validation";
            case client_errc::conflict:
                return "document number already used by another document";
            case client_errc::cancelled:
                return "cancelled";
            case client_errc::retries_exhausted:
                return "retries exhausted";
            case client_errc::tls_verify:
                return "TLS certificate verification failed";
            case client_errc::rate_limited:
                return "rate limited by the server";
            case client_errc::journal:
                return "intent journal failure";
            case client_errc::payload_changed:
                return "journaled before with another payload";
            case client_errc::account_stopped:
                return "account stopped";
            case client_errc::held_elsewhere:
                return "another sender holds this document";
        }
        return "unknown client error";
    }
};

class store_cat final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "nubefact.store"; }
    std::string message(int ev) const override {
        switch (static_cast<store_errc>(ev)) {
            case store_errc::open_failed:
                return "could not open the store";
            case store_errc::migration_failed:
                return "store migration failed";
            case store_errc::query_failed:
                return "store query failed";
            case store_errc::constraint:
                return "store constraint violated";
            case store_errc::not_found:
                return "not found in the store";
            case store_errc::busy:
                return "store busy";
            case store_errc::bad_url:
                return "bad store URL";
            case store_errc::crypto:
                return "token encryption/decryption failed (check NUBEFACT_SECRET_KEY)";
            case store_errc::closed:
                return "store closed";
            case store_errc::disk_full:
                return "the store's disk is full";
            case store_errc::io_error:
                return "store disk I/O error (a full disk, a file size limit or a failing disk)";
            case store_errc::read_only:
                return "the store is read-only";
            case store_errc::corrupt:
                return "the store's file is not a database or is damaged";
            case store_errc::missing:
                return "no such file (nothing has been stored there yet)";
        }
        return "unknown store error";
    }
};

class decimal_cat final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "nubefact.decimal"; }
    std::string message(int ev) const override {
        switch (static_cast<decimal_errc>(ev)) {
            case decimal_errc::syntax:
                return "not a decimal number";
            case decimal_errc::too_many_digits:
                return "more than 12 integer or 10 fractional digits";
            case decimal_errc::overflow:
                return "decimal overflow";
            case decimal_errc::division_by_zero:
                return "division by zero";
        }
        return "unknown decimal error";
    }
};

}  // namespace

const boost::system::error_category& api_category() noexcept {
    static const api_cat c;
    return c;
}
const boost::system::error_category& client_category() noexcept {
    static const client_cat c;
    return c;
}
const boost::system::error_category& store_category() noexcept {
    static const store_cat c;
    return c;
}
const boost::system::error_category& decimal_category() noexcept {
    static const decimal_cat c;
    return c;
}

std::string_view api_message(api_errc e) noexcept {
    switch (e) {
        case api_errc::token_invalid:
            return "No se pudo autenticar, token incorrecto o eliminado";
        case api_errc::ruta_invalid:
            return "La ruta o URL que estás usando no es correcta o no existe. Revisa en tu cuenta la opción "
                   "API "
                   "(Integración)";
        case api_errc::content_type:
            return "Solicitud incorrecta: la cabecera (header) no contiene un Content-Type correcto "
                   "(application/json)";
        case api_errc::bad_format:
            return "El archivo enviado no cumple con el formato establecido";
        case api_errc::already_exists:
            return "Este documento ya existe en NubeFacT";
        case api_errc::not_found:
            return "El documento no existe o no fue enviado a NubeFacT";
        case api_errc::internal:
            return "Error interno desconocido";
        case api_errc::account_suspended:
            return "La cuenta está suspendida";
        case api_errc::suspended_nonpayment:
            return "La cuenta está suspendida por falta de pago";
        case api_errc::operation_failed:
        case api_errc::out_of_period:
            break;
    }
    return {};
}

int api_http_status(api_errc e) noexcept {
    switch (e) {
        case api_errc::token_invalid:
        case api_errc::ruta_invalid:
            return 401;
        case api_errc::account_suspended:
        case api_errc::suspended_nonpayment:
            return 403;
        case api_errc::internal:
            return 500;
        default:
            return 400;
    }
}

bool is_account_codigo(int c) noexcept {
    for (auto e : {api_errc::token_invalid, api_errc::ruta_invalid, api_errc::account_suspended,
                   api_errc::suspended_nonpayment})
        if (c == static_cast<int>(e)) return true;
    return false;
}

bool is_known_api_codigo(int c) noexcept {
    for (auto e :
         {api_errc::token_invalid, api_errc::ruta_invalid, api_errc::content_type, api_errc::bad_format,
          api_errc::operation_failed, api_errc::out_of_period, api_errc::already_exists, api_errc::not_found,
          api_errc::internal, api_errc::account_suspended, api_errc::suspended_nonpayment})
        if (c == static_cast<int>(e)) return true;
    return false;
}

}  // namespace nubefact

// AES-256-GCM token encryption with OpenSSL 3 (EVP_KDF HKDF for the key, RAND_bytes for nonces).
#include "crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <memory>

namespace nubefact::store::detail {
namespace {

constexpr std::size_t nonce_len = 12, tag_len = 16;

struct ctx_free {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, ctx_free>;

}  // namespace

std::optional<token_cipher> token_cipher::from_secret(std::string_view secret) {
    if (secret.empty()) return std::nullopt;
    token_cipher c;
    EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    if (!kdf) return std::nullopt;
    EVP_KDF_CTX* kctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (!kctx) return std::nullopt;
    static const char salt[] = "nubefact-store";
    static const char info[] = "nubefact token encryption v1";
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(secret.data()),
                                          secret.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt), sizeof salt - 1),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info), sizeof info - 1),
        OSSL_PARAM_construct_end(),
    };
    int ok = EVP_KDF_derive(kctx, c.key_.data(), c.key_.size(), params);
    EVP_KDF_CTX_free(kctx);
    if (ok != 1) return std::nullopt;
    return c;
}

token_cipher::~token_cipher() {
    OPENSSL_cleanse(key_.data(), key_.size());
}

result<std::string> token_cipher::encrypt(std::string_view plain, std::string_view aad) const {
    std::string buf(nonce_len + plain.size() + tag_len, '\0');
    auto* out = reinterpret_cast<unsigned char*>(buf.data());
    if (RAND_bytes(out, nonce_len) != 1) return store_errc::crypto;
    ctx_ptr ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), out) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                          static_cast<int>(aad.size())) != 1 ||
        EVP_EncryptUpdate(ctx.get(), out + nonce_len, &len,
                          reinterpret_cast<const unsigned char*>(plain.data()),
                          static_cast<int>(plain.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), out + nonce_len + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_len, out + nonce_len + plain.size()) != 1)
        return store_errc::crypto;
    return std::string(enc_prefix) + base64_encode(buf);
}

result<std::string> token_cipher::decrypt(std::string_view stored, std::string_view aad) const {
    if (!stored.starts_with(enc_prefix)) return store_errc::crypto;
    auto raw = base64_decode(stored.substr(enc_prefix.size()));
    if (!raw || raw->size() < nonce_len + tag_len) return store_errc::crypto;
    const auto* in = reinterpret_cast<const unsigned char*>(raw->data());
    std::size_t clen = raw->size() - nonce_len - tag_len;
    std::string plain(clen, '\0');
    auto* out = reinterpret_cast<unsigned char*>(plain.data());
    ctx_ptr ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), in) != 1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                          static_cast<int>(aad.size())) != 1 ||
        EVP_DecryptUpdate(ctx.get(), out, &len, in + nonce_len, static_cast<int>(clen)) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_len,
                            const_cast<unsigned char*>(in + nonce_len + clen)) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), out + len, &len) != 1) {
        OPENSSL_cleanse(plain.data(), plain.size());
        return store_errc::crypto;
    }
    return plain;
}

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out(3 * text.size() / 4, '\0');
    int n =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    std::size_t pad = 0;
    if (!text.empty() && text.back() == '=') ++pad;
    if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
    out.resize(static_cast<std::size_t>(n) - pad);
    return out;
}

}  // namespace nubefact::store::detail

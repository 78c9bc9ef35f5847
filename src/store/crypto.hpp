// Token encryption at rest: AES-256-GCM, key derived with HKDF-SHA256 from NUBEFACT_SECRET_KEY.
#pragma once

#include <nubefact/error.hpp>

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace nubefact::store::detail {

inline constexpr std::string_view enc_prefix = "enc:v1:";

// A derived 256-bit key. Copyable; wiped on destruction.
class token_cipher {
  public:
    // Derives the key from the secret (any non-empty string). Throws nothing; empty secret = no key.
    static std::optional<token_cipher> from_secret(std::string_view secret);
    ~token_cipher();
    token_cipher(const token_cipher&) = default;
    token_cipher& operator=(const token_cipher&) = default;

    // "enc:v1:" + base64(nonce[12] || ciphertext || tag[16]); `aad` binds it to its row (account name).
    result<std::string> encrypt(std::string_view plain, std::string_view aad) const;
    // Decrypts what encrypt() produced; store_errc::crypto when the key or data is wrong.
    result<std::string> decrypt(std::string_view stored, std::string_view aad) const;

  private:
    token_cipher() = default;
    std::array<unsigned char, 32> key_{};
};

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace nubefact::store::detail

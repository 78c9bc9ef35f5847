// The account the client's unit tests run with: a loopback ruta nobody listens on (the tests plug
// in their own transport), no rate limit, no local validation, fast retries within `total`.
#pragma once

#include <nubefact/config.hpp>

#include <chrono>
#include <string>

namespace nubefact::unittest {

inline account_config test_account(std::string name, int attempts, std::chrono::milliseconds total) {
    using namespace std::chrono_literals;
    account_config c;
    c.name = std::move(name);
    c.ruta = "http://127.0.0.1:9/api/v1/demo";
    c.token = "demo-token";
    c.rate.requests_per_second = 0;  // unlimited
    c.retry = retry_config{attempts, 1ms, 2ms, total};
    c.validate = false;
    return c;
}

}  // namespace nubefact::unittest

#include <catch2/catch.hpp>
#include <string>

#include "core/error.h"
#include "core/sha256.h"

using namespace v3sim;

// Known answers from FIPS 180-4's examples (NIST CSRC "Examples with intermediate values", SHA-256) and the
// one-million-'a' vector of FIPS 180-2 Appendix B.3.
TEST_CASE("SHA-256 gives the published digests", "[core][sha256]") {
  auto [text, digest] = GENERATE(table<std::string, std::string>({
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrst"
       "nopqrstu",
       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
  }));
  CHECK(sha256_hex(text) == digest);
}

TEST_CASE("SHA-256 of a million 'a' fed in uneven pieces matches the one-shot digest and the known answer",
          "[core][sha256]") {
  const std::string million(1'000'000, 'a');
  const std::string expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
  CHECK(sha256_hex(million) == expected);
  // Pieces that straddle the 64-byte blocks and the 56-byte padding boundary.
  Sha256 h;
  size_t at = 0;
  for (size_t piece : {1, 55, 8, 63, 64, 65, 127}) {
    h.update(std::string_view(million).substr(at, piece));
    at += piece;
  }
  h.update(std::string_view(million).substr(at));
  CHECK(h.hex() == expected);
}

TEST_CASE("a message of 55, 56 and 64 bytes pads into one or two blocks correctly", "[core][sha256]") {
  // Reference digests from coreutils' sha256sum (printf 'a%.0s' {1..N} | sha256sum).
  CHECK(sha256_hex(std::string(55, 'a')) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  CHECK(sha256_hex(std::string(56, 'a')) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  CHECK(sha256_hex(std::string(64, 'a')) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST_CASE("using a finished hash is our bug", "[core][sha256]") {
  Sha256 h;
  h.update("x");
  (void)h.hex();
  CHECK_THROWS_AS(h.update("y"), InternalError);
}

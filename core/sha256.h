// SHA-256 (FIPS 180-4), for provenance: the hash of an imported trace or a rules file is stamped into the
// files v3sim writes, so a result names exactly the input it came from.
//
// Example:
//   Sha256 h;
//   h.update(chunk1); h.update(chunk2);
//   std::string hex = h.hex();          // 64 lowercase hex digits
//   sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace v3sim {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  // The digest of everything given so far. @post the object is finished: update() after it is our bug.
  std::array<uint8_t, 32> digest();
  std::string hex();

 private:
  void block(const uint8_t* p);

  std::array<uint32_t, 8> m_h;
  std::array<uint8_t, 64> m_buf{};
  size_t m_used = 0;     // bytes waiting in m_buf
  uint64_t m_total = 0;  // message length in bytes
  bool m_finished = false;
};

// The hash of `data` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

}  // namespace v3sim

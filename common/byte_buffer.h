#pragma once

// ByteBuffer: an owned, growable byte array whose growth does not zero-fill. A log read or a
// batch build fills every byte it asks for, so the memset that std::string / std::vector would
// do on resize is pure overhead on the hot path (about a third of the cost of a 1 MiB page-cache
// read). Move-only; not thread-safe.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

#include "common/check.h"

namespace strand {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  explicit ByteBuffer(size_t size) { ResizeUninitialized(size); }
  static ByteBuffer CopyOf(std::span<const uint8_t> bytes) {
    ByteBuffer b(bytes.size());
    if (!bytes.empty()) std::memcpy(b.data(), bytes.data(), bytes.size());
    return b;
  }
  static ByteBuffer CopyOf(std::string_view bytes) {
    return CopyOf(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  }

  ByteBuffer(ByteBuffer&& other) noexcept
      : data_(std::move(other.data_)),
        size_(std::exchange(other.size_, 0)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  ByteBuffer& operator=(ByteBuffer&& other) noexcept {
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    return *this;
  }
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return capacity_; }

  std::span<uint8_t> span() { return {data_.get(), size_}; }
  std::span<const uint8_t> span() const { return {data_.get(), size_}; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_.get()), size_}; }

  void Reserve(size_t capacity) {
    if (capacity <= capacity_) return;
    std::unique_ptr<uint8_t[]> bigger(new uint8_t[capacity]);  // default-init: no zero fill
    // size_ < capacity always holds here; the min() only spares GCC a false overflow warning.
    if (size_ > 0) std::memcpy(bigger.get(), data_.get(), std::min(size_, capacity));
    data_ = std::move(bigger);
    capacity_ = capacity;
  }

  // Grows or shrinks to `size`; new bytes are uninitialized and must be written by the caller.
  void ResizeUninitialized(size_t size) {
    if (size > capacity_) Reserve(std::max(size, capacity_ + capacity_ / 2));
    size_ = size;
  }

  void Append(const void* bytes, size_t n) {
    size_t at = size_;
    ResizeUninitialized(size_ + n);
    if (n > 0) std::memcpy(data_.get() + at, bytes, n);
  }
  void Append(std::span<const uint8_t> bytes) { Append(bytes.data(), bytes.size()); }
  void Append(std::string_view bytes) { Append(bytes.data(), bytes.size()); }

  void Clear() { size_ = 0; }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace strand

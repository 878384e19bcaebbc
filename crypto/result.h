// Result<T, E>: a value or the reason there is none.
//
// Error handling in hearsay, by cause:
//  - what a peer, a user or a file can get wrong comes back as a Result (or an error enum);
//  - Asio code reports through error_code and never throws through a handler;
//  - a broken internal invariant aborts with a message (HEARSAY_CHECK).
// Nothing a peer controls reaches an assert.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace hearsay {

template <class E>
struct Unexpected {
  E error;
};
template <class E>
Unexpected<std::decay_t<E>> fail(E&& e) {
  return {std::forward<E>(e)};
}

template <class T, class E>
class [[nodiscard]] Result {
 public:
  Result(T value) : m_v(std::in_place_index<0>, std::move(value)) {}
  template <class F>
  Result(Unexpected<F> e) : m_v(std::in_place_index<1>, std::move(e.error)) {}

  bool ok() const { return m_v.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(m_v); }
  const T& value() const& { return std::get<0>(m_v); }
  T&& value() && { return std::get<0>(std::move(m_v)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const E& error() const { return std::get<1>(m_v); }

 private:
  std::variant<T, E> m_v;
};

// Status: success, or an error message meant for a person (names the path and the fix).
class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status error(std::string message) { return Status(std::move(message)); }
  template <class F>
  Status(Unexpected<F> e) : m_error(std::move(e.error)), m_failed(true) {}
  bool ok() const { return !m_failed; }
  explicit operator bool() const { return ok(); }
  const std::string& message() const { return m_error; }

 private:
  explicit Status(std::string m) : m_error(std::move(m)), m_failed(true) {}
  std::string m_error;
  bool m_failed = false;
};

[[noreturn]] inline void check_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "hearsay: internal invariant broken: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace hearsay

// Aborts on a broken internal invariant. Never use it on anything a peer or user controls.
#define HEARSAY_CHECK(expr) ((expr) ? (void)0 : ::hearsay::check_failed(#expr, __FILE__, __LINE__))

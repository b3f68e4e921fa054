// error.hpp - the one error type of MLTF: MLflow's error codes plus a message for the client.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

namespace mltf {

/// MLflow's `ErrorCode` names (databricks.proto), the subset MLTF raises. The HTTP status of
/// each lives in http/error_response.cpp alone.
enum class ErrorCode {
  INTERNAL_ERROR,
  TEMPORARILY_UNAVAILABLE,
  BAD_REQUEST,
  INVALID_PARAMETER_VALUE,
  RESOURCE_ALREADY_EXISTS,
  RESOURCE_DOES_NOT_EXIST,
  ENDPOINT_NOT_FOUND,
  INVALID_STATE,
  RESOURCE_EXHAUSTED,
  REQUEST_LIMIT_EXCEEDED,
  PERMISSION_DENIED,
  UNAUTHENTICATED,
  NOT_IMPLEMENTED,
  RESOURCE_CONFLICT,
};

/// The wire name of a code, e.g. "RESOURCE_DOES_NOT_EXIST". Does not fail.
std::string_view ErrorCodeName(ErrorCode code);

/// An expected failure: carried as a value, rendered as `{"error_code", "message"}`.
/// Messages may reach clients: never put secrets or connection strings in them.
struct Error {
  ErrorCode code = ErrorCode::INTERNAL_ERROR;
  std::string message;

  static Error Internal(std::string message) {
    return {ErrorCode::INTERNAL_ERROR, std::move(message)};
  }
  static Error InvalidParameter(std::string message) {
    return {ErrorCode::INVALID_PARAMETER_VALUE, std::move(message)};
  }
  static Error BadRequest(std::string message) {
    return {ErrorCode::BAD_REQUEST, std::move(message)};
  }
  static Error ResourceDoesNotExist(std::string message) {
    return {ErrorCode::RESOURCE_DOES_NOT_EXIST, std::move(message)};
  }
  static Error ResourceAlreadyExists(std::string message) {
    return {ErrorCode::RESOURCE_ALREADY_EXISTS, std::move(message)};
  }
  static Error InvalidState(std::string message) {
    return {ErrorCode::INVALID_STATE, std::move(message)};
  }
  static Error NotImplemented(std::string message) {
    return {ErrorCode::NOT_IMPLEMENTED, std::move(message)};
  }
  static Error Unavailable(std::string message) {
    return {ErrorCode::TEMPORARILY_UNAVAILABLE, std::move(message)};
  }
};

template <typename T>
using Result = tl::expected<T, Error>;

/// Shorthand for returning an error from a function that yields Result<T>.
inline tl::unexpected<Error> Fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

}  // namespace mltf

// The macros declare variables from their arguments, which cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define MLTF_CONCAT_INNER(a, b) a##b
#define MLTF_CONCAT(a, b) MLTF_CONCAT_INNER(a, b)

/// Evaluates `expr` (a Result); on failure returns its error from the enclosing function.
/// The result's name is unique per expansion, so MLTF_TRY may nest inside lambdas.
#define MLTF_TRY(expr) MLTF_TRY_IMPL(expr, MLTF_CONCAT(mltf_try_result_, __COUNTER__))
#define MLTF_TRY_IMPL(expr, name)                   \
  do {                                              \
    auto name = (expr);                             \
    if (!name) {                                    \
      return ::mltf::Fail(std::move(name).error()); \
    }                                               \
  } while (false)

/// Declares `var` from the value of `expr` (a Result), or returns its error.
#define MLTF_ASSIGN_OR_RETURN(var, expr)                   \
  auto var##_result_ = (expr);                             \
  if (!var##_result_) {                                    \
    return ::mltf::Fail(std::move(var##_result_).error()); \
  }                                                        \
  auto var = std::move(*var##_result_)
// NOLINTEND(bugprone-macro-parentheses)

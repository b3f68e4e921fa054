// error.cpp - wire names of error codes.
#include "common/error.hpp"

namespace mltf {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::INTERNAL_ERROR:
      return "INTERNAL_ERROR";
    case ErrorCode::TEMPORARILY_UNAVAILABLE:
      return "TEMPORARILY_UNAVAILABLE";
    case ErrorCode::BAD_REQUEST:
      return "BAD_REQUEST";
    case ErrorCode::INVALID_PARAMETER_VALUE:
      return "INVALID_PARAMETER_VALUE";
    case ErrorCode::RESOURCE_ALREADY_EXISTS:
      return "RESOURCE_ALREADY_EXISTS";
    case ErrorCode::RESOURCE_DOES_NOT_EXIST:
      return "RESOURCE_DOES_NOT_EXIST";
    case ErrorCode::ENDPOINT_NOT_FOUND:
      return "ENDPOINT_NOT_FOUND";
    case ErrorCode::INVALID_STATE:
      return "INVALID_STATE";
    case ErrorCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case ErrorCode::REQUEST_LIMIT_EXCEEDED:
      return "REQUEST_LIMIT_EXCEEDED";
    case ErrorCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case ErrorCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case ErrorCode::NOT_IMPLEMENTED:
      return "NOT_IMPLEMENTED";
    case ErrorCode::RESOURCE_CONFLICT:
      return "RESOURCE_CONFLICT";
  }
  return "INTERNAL_ERROR";
}

}  // namespace mltf

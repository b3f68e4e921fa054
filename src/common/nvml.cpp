// nvml.cpp - opening, initialising and closing NVML (see the header).
#include "common/nvml.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

namespace mltf::nvml {
namespace {

using InitFn = Return (*)();
using ShutdownFn = Return (*)();
using ErrorStringFn = const char* (*)(Return);

}  // namespace

Result<std::unique_ptr<Library>> Library::Open(const std::string& path,
                                               std::initializer_list<const char*> required) {
  dlerror();  // clear any earlier error
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    return Fail(Error::Unavailable(error != nullptr ? error : path));
  }
  std::unique_ptr<Library> library(new Library(handle));
  for (const char* name : {"nvmlInit_v2", "nvmlShutdown"}) {
    if (library->Symbol(name) == nullptr) {
      return Fail(Error::Unavailable(fmt::format("{} has no symbol {}", path, name)));
    }
  }
  for (const char* name : required) {
    if (library->Symbol(name) == nullptr) {
      return Fail(Error::Unavailable(fmt::format("{} has no symbol {}", path, name)));
    }
  }
  if (const Return code = library->Function<InitFn>("nvmlInit_v2")(); code != kSuccess) {
    return Fail(
        Error::Unavailable(fmt::format("nvmlInit_v2 failed: {}", library->ErrorText(code))));
  }
  library->initialised_ = true;
  return library;
}

Library::~Library() {
  if (initialised_) Function<ShutdownFn>("nvmlShutdown")();
  dlclose(handle_);
}

std::string Library::ErrorText(Return code) const {
  const auto error_string = Function<ErrorStringFn>("nvmlErrorString");  // optional
  const char* text = error_string != nullptr ? error_string(code) : nullptr;
  return text != nullptr ? fmt::format("{} ({})", text, code) : fmt::format("error {}", code);
}

void* Library::Symbol(const char* name) const { return dlsym(handle_, name); }

}  // namespace mltf::nvml

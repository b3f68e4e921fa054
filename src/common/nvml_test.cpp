// nvml_test.cpp - opening NVML where there is none (as on every test machine): the reasons.
#include "common/nvml.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mltf::nvml {
namespace {

using ::testing::HasSubstr;

TEST(NvmlLibraryTest, AMissingLibraryIsUnavailableAndNamed) {
  auto library = Library::Open("libmltf-no-such-nvml.so", {});
  ASSERT_FALSE(library);
  EXPECT_EQ(library.error().code, ErrorCode::TEMPORARILY_UNAVAILABLE);
  EXPECT_THAT(library.error().message, HasSubstr("libmltf-no-such-nvml.so"));
}

TEST(NvmlLibraryTest, ALibraryWithoutNvmlsSymbolsIsNotNvml) {
  auto library = Library::Open("libc.so.6", {"nvmlDeviceGetCount_v2"});
  ASSERT_FALSE(library);
  EXPECT_EQ(library.error().message, "libc.so.6 has no symbol nvmlInit_v2");
}

}  // namespace
}  // namespace mltf::nvml

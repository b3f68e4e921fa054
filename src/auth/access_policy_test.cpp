// access_policy_test.cpp - the permission rules: admins, task scopes, user rows over group rows
// over the default, runs following experiments, and the readable sets searches filter by.
#include "auth/access_policy.hpp"

#include <gtest/gtest.h>

#include "registry/store/sql/temporary_database.hpp"

namespace mltf::auth {
namespace {

const Identity kAlice{.user = "alice", .groups = {"cms"}};
const Identity kBob{.user = "bob", .groups = {"atlas"}};
const Identity kRoot{.user = "root", .admin = true};

class AccessPolicyTest : public ::testing::Test {
 protected:
  AccessPolicy Policy(Permission default_permission) {
    return {store_, default_permission, [this](const std::string& run_id) -> Result<std::string> {
              ++run_lookups_;
              if (run_id == "run-1") return std::string("1");
              if (run_id == "run-2") return std::string("2");
              return Fail(Error::ResourceDoesNotExist("no run " + run_id));
            }};
  }

  void Grant(const std::string& experiment, PrincipalKind kind, const std::string& principal,
             Permission permission) {
    ASSERT_TRUE(store_.Put(ResourceKind::EXPERIMENT, {.resource = experiment,
                                                      .principal_kind = kind,
                                                      .principal = principal,
                                                      .permission = permission}));
  }

  static bool Allowed(const Result<void>& result) {
    if (!result) {
      EXPECT_EQ(result.error().code, ErrorCode::PERMISSION_DENIED);
    }
    return result.has_value();
  }

  registry::store::sql::TemporaryDatabase database_;
  PermissionStore store_{database_.database()};
  int run_lookups_ = 0;
};

TEST_F(AccessPolicyTest, TheCreatorManagesWhatItCreatedAndOthersGetTheDefault) {
  auto policy = Policy(Permission::NO_PERMISSIONS);
  ASSERT_TRUE(policy.GrantCreator(kAlice, ResourceKind::EXPERIMENT, "1"));
  for (Action action : {Action::READ, Action::UPDATE, Action::DELETE, Action::MANAGE}) {
    EXPECT_TRUE(Allowed(policy.CheckExperiment(kAlice, "1", action)));
    EXPECT_FALSE(Allowed(policy.CheckExperiment(kBob, "1", action)));
    EXPECT_TRUE(Allowed(policy.CheckExperiment(kRoot, "1", action)));
  }
  auto readable = Policy(Permission::READ);
  EXPECT_TRUE(Allowed(readable.CheckExperiment(kBob, "1", Action::READ)));
  EXPECT_FALSE(Allowed(readable.CheckExperiment(kBob, "1", Action::UPDATE)));
}

TEST_F(AccessPolicyTest, TheUsersOwnRowBeatsItsGroupsAndTheBestGroupRowBeatsTheDefault) {
  auto policy = Policy(Permission::READ);
  Grant("1", PrincipalKind::GROUP, "cms", Permission::EDIT);
  Grant("1", PrincipalKind::GROUP, "other", Permission::MANAGE);
  EXPECT_EQ(*policy.Effective(kAlice, ResourceKind::EXPERIMENT, "1"), Permission::EDIT);
  Grant("1", PrincipalKind::USER, "alice", Permission::NO_PERMISSIONS);
  policy.Forget(ResourceKind::EXPERIMENT, "1");  // as the permission endpoints do
  EXPECT_EQ(*policy.Effective(kAlice, ResourceKind::EXPERIMENT, "1"), Permission::NO_PERMISSIONS);
  EXPECT_EQ(*policy.Effective(kBob, ResourceKind::EXPERIMENT, "1"), Permission::READ);
  auto message = policy.CheckExperiment(kAlice, "1", Action::READ);
  ASSERT_FALSE(message.has_value());
  EXPECT_EQ(message.error().message, "Permission denied: you may not read experiment '1'");
}

TEST_F(AccessPolicyTest, RunsFollowTheirExperimentAndTheirExperimentIsLookedUpOnce) {
  auto policy = Policy(Permission::NO_PERMISSIONS);
  Grant("1", PrincipalKind::USER, "alice", Permission::EDIT);
  EXPECT_TRUE(Allowed(policy.CheckRun(kAlice, "run-1", Action::UPDATE)));
  EXPECT_FALSE(Allowed(policy.CheckRun(kAlice, "run-1", Action::DELETE)));
  EXPECT_FALSE(Allowed(policy.CheckRun(kAlice, "run-2", Action::READ)));
  EXPECT_TRUE(Allowed(policy.CheckRun(kAlice, "run-1", Action::READ)));
  EXPECT_EQ(run_lookups_, 2);
  auto unknown = policy.CheckRun(kAlice, "run-9", Action::READ);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
}

TEST_F(AccessPolicyTest, ATaskTokenReachesOnlyItsExperimentWithEditAndNoModels) {
  auto policy = Policy(Permission::READ);
  Identity task{.user = "root", .task = TaskScope{.task_id = "t", .experiment_id = "1"}};
  EXPECT_TRUE(Allowed(policy.CheckRun(task, "run-1", Action::UPDATE)));
  EXPECT_FALSE(Allowed(policy.CheckRun(task, "run-1", Action::DELETE)));
  EXPECT_FALSE(Allowed(policy.CheckRun(task, "run-2", Action::READ)));
  EXPECT_FALSE(Allowed(policy.CheckModel(task, "m", Action::READ)));
  EXPECT_FALSE(Allowed(AccessPolicy::CheckMayCreate(task)));
  auto readable = policy.Readable(task, ResourceKind::EXPERIMENT);
  ASSERT_TRUE(readable.has_value() && readable->has_value());
  EXPECT_TRUE((*readable)->only_listed);
  EXPECT_EQ((*readable)->listed, std::vector<std::string>{"1"});
}

TEST_F(AccessPolicyTest, ReadableSetsListGrantsOrExceptionsAsTheDefaultSays) {
  Grant("1", PrincipalKind::USER, "alice", Permission::MANAGE);
  Grant("2", PrincipalKind::GROUP, "cms", Permission::READ);
  Grant("3", PrincipalKind::GROUP, "cms", Permission::NO_PERMISSIONS);
  Grant("4", PrincipalKind::USER, "bob", Permission::READ);
  Grant("2", PrincipalKind::USER, "alice", Permission::NO_PERMISSIONS);

  auto private_default = Policy(Permission::NO_PERMISSIONS);
  auto readable = private_default.Readable(kAlice, ResourceKind::EXPERIMENT);
  ASSERT_TRUE(readable.has_value() && readable->has_value());
  EXPECT_TRUE((*readable)->only_listed);
  EXPECT_EQ((*readable)->listed, std::vector<std::string>{"1"});  // 2: her own row hides it

  auto open_default = Policy(Permission::READ);
  readable = open_default.Readable(kAlice, ResourceKind::EXPERIMENT);
  ASSERT_TRUE(readable.has_value() && readable->has_value());
  EXPECT_FALSE((*readable)->only_listed);
  EXPECT_EQ((*readable)->listed, (std::vector<std::string>{"2", "3"}));  // all but these

  readable = open_default.Readable(kRoot, ResourceKind::EXPERIMENT);
  ASSERT_TRUE(readable.has_value());
  EXPECT_FALSE(readable->has_value());  // admins: no restriction
}

TEST_F(AccessPolicyTest, RowsAreRememberedForTwoSecondsUnlessForgotten) {
  auto now = std::chrono::steady_clock::now();
  AccessPolicy policy(
      store_, Permission::NO_PERMISSIONS,
      [](const std::string&) -> Result<std::string> { return std::string("1"); },
      [&now] { return now; });
  EXPECT_FALSE(Allowed(policy.CheckExperiment(kBob, "1", Action::READ)));
  Grant("1", PrincipalKind::USER, "bob", Permission::READ);  // through another server
  EXPECT_FALSE(Allowed(policy.CheckExperiment(kBob, "1", Action::READ)));
  now += std::chrono::seconds(2);
  EXPECT_TRUE(Allowed(policy.CheckExperiment(kBob, "1", Action::READ)));
  Grant("1", PrincipalKind::USER, "bob", Permission::NO_PERMISSIONS);  // through this one
  policy.Forget(ResourceKind::EXPERIMENT, "1");
  EXPECT_FALSE(Allowed(policy.CheckExperiment(kBob, "1", Action::READ)));
}

TEST_F(AccessPolicyTest, PermissionRowsAreCreatedUpdatedAndDeletedOnce) {
  const PermissionRow row{.resource = "7", .principal = "bob", .permission = Permission::READ};
  ASSERT_TRUE(store_.Create(ResourceKind::EXPERIMENT, row));
  EXPECT_EQ(store_.Create(ResourceKind::EXPERIMENT, row).error().code,
            ErrorCode::RESOURCE_ALREADY_EXISTS);
  auto edited = row;
  edited.permission = Permission::EDIT;
  ASSERT_TRUE(store_.Update(ResourceKind::EXPERIMENT, edited));
  auto rows = store_.ForResource(ResourceKind::EXPERIMENT, "7");
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 1U);
  EXPECT_EQ((*rows)[0].permission, Permission::EDIT);
  ASSERT_TRUE(store_.Delete(ResourceKind::EXPERIMENT, "7", PrincipalKind::USER, "bob"));
  EXPECT_EQ(store_.Delete(ResourceKind::EXPERIMENT, "7", PrincipalKind::USER, "bob").error().code,
            ErrorCode::RESOURCE_DOES_NOT_EXIST);
  EXPECT_EQ(store_.ForResource(ResourceKind::EXPERIMENT, "x").error().code,
            ErrorCode::INVALID_PARAMETER_VALUE);

  ASSERT_TRUE(store_.Put(ResourceKind::REGISTERED_MODEL,
                         {.resource = "m", .principal = "bob", .permission = Permission::MANAGE}));
  ASSERT_TRUE(store_.RenameModel("m", "m2"));
  EXPECT_EQ(store_.ForResource(ResourceKind::REGISTERED_MODEL, "m2")->size(), 1U);
  ASSERT_TRUE(store_.DeleteResource(ResourceKind::REGISTERED_MODEL, "m2"));
  EXPECT_TRUE(store_.ForResource(ResourceKind::REGISTERED_MODEL, "m2")->empty());
}

}  // namespace
}  // namespace mltf::auth

// artifacts_routes.hpp - MLflow's proxied artifact API and the run artifact endpoints.
#pragma once

#include "artifacts/artifact_repository.hpp"
#include "auth/access_policy.hpp"
#include "http/router.hpp"
#include "tracking/tracking_service.hpp"

namespace mltf::artifacts::api {

/// Resolves a run's artifact URI to a repository and a path inside it.
class ArtifactLocator {
 public:
  /// `proxied` serves `mlflow-artifacts:/` URIs (the server's artifact destination).
  explicit ArtifactLocator(ArtifactRepository& proxied) : proxied_(proxied) {}

  struct Location {
    ArtifactRepository* repository;
    std::string path;  ///< relative to the repository root
  };

  /// Fails with INVALID_PARAMETER_VALUE for URIs this server cannot read (other schemes).
  [[nodiscard]] Result<Location> Locate(std::string_view artifact_uri) const;

 private:
  ArtifactRepository& proxied_;
};

/// Registers:
///  PUT|GET|DELETE /api/2.0/mlflow-artifacts/artifacts/<path>, GET .../artifacts?path=
///  GET /api/2.0/mlflow/artifacts/list, GET /get-artifact
/// (all also under /ajax-api/2.0). The arguments must outlive the router. With a `policy` (auth
/// on), a run's artifacts follow the run's experiment, and a proxied path
/// `<experiment id>/<run id>/artifacts/...` its first segment's experiment: reading needs READ,
/// uploading EDIT, deleting MANAGE; other proxied paths are for admins only.
void RegisterArtifactRoutes(http::Router& router, const ArtifactLocator& locator,
                            ArtifactRepository& proxied, tracking::TrackingService& tracking,
                            auth::AccessPolicy* policy = nullptr);

/// A Content-Type for a file name, as Python's mimetypes would guess it.
std::string_view GuessContentType(std::string_view file_name);

}  // namespace mltf::artifacts::api

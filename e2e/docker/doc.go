// Package docker holds the Ginkgo suite for container nodes (lab/backend/
// docker): labs whose appliances, or servers, are containers of the
// gwlb-lab image. Its BeforeSuite builds that image with scripts/images.sh
// (tagged by the binary's hash, so a later run of the same binary builds
// nothing) and the suite skips, saying why, where no Docker engine answers.
package docker

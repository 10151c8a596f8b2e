// Package compose holds the Ginkgo suite for the repository's
// docker-compose.yml: the default lab run as the main process of one
// container of the gwlb-lab-box image. Its BeforeSuite builds that image with
// scripts/images.sh (content tag only; the Debian base by debootstrap the
// first time) and the suite skips, saying why, where no Docker engine answers
// or no docker-compose is installed. Each spec uses a random compose project
// name and takes its project down, whatever happens.
package compose

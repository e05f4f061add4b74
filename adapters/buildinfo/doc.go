// Package buildinfo says which build of scim-rotator is running: the release
// version set at build time, else the module version Go recorded, else
// "devel" with the VCS revision, its time and whether the tree was modified.
// The version command, the User-Agent and the build_info metric read it.
package buildinfo

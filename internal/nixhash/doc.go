// Package nixhash computes, without Nix, the hashes Nix gives to file trees, and the
// vendorHash that flake.nix's buildGoModule (proxyVendor = true) expects for the root module.
//
// It exists so that `make vendorhash` can refresh flake.nix, and a test can catch a stale
// vendorHash, on machines (CI, most developers) where Nix is not installed. Nothing in the
// shipped binary imports it.
package nixhash

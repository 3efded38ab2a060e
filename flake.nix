{
  description = "mcp-cloudrun-proxy: use an IAM-protected MCP server on Google Cloud Run from any local MCP client";

  # No flake.lock is committed yet: the machines this project is developed on cannot reach
  # the Nix binary caches or GitHub to lock nixpkgs. `nix run github:...` works unlocked (Nix
  # resolves nixos-unstable at that moment); a user who wants a pinned build can run
  # `nix flake lock` in a checkout, and whoever can should commit the resulting flake.lock.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # Stamped into the binary with -X; `mcp-cloudrun-proxy --version` prints both with the Go
      # version. Flakes cannot see git tags, so the version is the commit date.
      version = "0-unstable-" + builtins.substring 0 8 (self.lastModifiedDate or "19700101");
      commit = self.shortRev or self.dirtyShortRev or "unknown";

      # go.mod says `go 1.26.0` and the build runs with GOTOOLCHAIN=local, so it needs Go 1.26
      # or newer from nixpkgs itself.
      goFor = pkgs: pkgs.go_1_26 or pkgs.go;
    in
    {
      packages = forAllSystems (
        pkgs:
        let
          inherit (pkgs) lib;
          buildGoModule = pkgs.buildGoModule.override { go = goFor pkgs; };
          mcp-cloudrun-proxy = buildGoModule {
            pname = "mcp-cloudrun-proxy";
            inherit version;

            # How this Go workspace is built by Nix
            # ---------------------------------------
            # The repository is several Go modules tied together by go.work: the root module
            # (the command), ./proxy, ./tokens, ./mcpclientcfg and ./cloudrun (libraries it imports) and
            # ./e2e (tests only). The root go.mod reaches the libraries through `replace ... =>
            # ./proxy` (etc.) directives, so it builds alone with GOWORK=off, and that is how
            # Nix builds it:
            #
            # * go.work and go.work.sum are left out of `src`, and GOWORK=off is set as well, so
            #   neither the download step nor the build enters workspace mode (which would pull
            #   in e2e's test-only dependencies and break on the missing ./e2e). ./e2e is left
            #   out too; nothing the binary builds from lives there.
            #
            # * proxyVendor = true. buildGoModule's default (`go mod vendor` in a fixed-output
            #   derivation) would copy the packages of the locally replaced modules into
            #   vendor/, so vendorHash would change with every edit to ./proxy, ./tokens or
            #   ./mcpclientcfg, and also whenever they start importing another package of a
            #   dependency. With proxyVendor the fixed-output derivation runs `go mod download`
            #   and keeps only the module cache's cache/download directory (less sumdb): the
            #   zips, .mod, .info and .ziphash files of remote modules. Local replacements are
            #   never downloaded, so vendorHash depends only on which third-party module
            #   versions are in the build: the root go.mod and go.sum, and the go.mod of each
            #   replaced sibling module. The build then runs with GOPROXY=file://<that cache>
            #   and reads ./proxy, ./tokens and ./mcpclientcfg from `src` as go.mod says.
            #
            # * modRoot = "." and subPackages = [ "." ]: without subPackages buildGoModule would
            #   `go install` every directory holding .go files, including ./proxy and the other
            #   modules, which are not packages of the root module.
            #
            # * vendorHash is that download directory's NAR hash. `make vendorhash` recomputes
            #   it without Nix (internal/nixhash, cross-checked with `nix hash path` when Nix is
            #   installed) and rewrites the line below; `make test` fails while it is stale.
            #   goSum names the download derivation after go.sum, so a stale hash fails loudly
            #   instead of silently reusing an older download with the same hash.
            src = lib.fileset.toSource {
              root = ./.;
              fileset = lib.fileset.difference ./. (
                lib.fileset.unions (
                  map lib.fileset.maybeMissing [
                    ./go.work
                    ./go.work.sum
                    ./e2e
                    ./flake.nix
                    ./flake.lock
                    ./README.md
                    ./Makefile
                    ./.ci
                    ./bin
                    ./dist
                    ./vendor
                  ]
                )
              );
            };
            modRoot = ".";
            subPackages = [ "." ];
            proxyVendor = true;
            vendorHash = "sha256-S9VkgX0mcNlXKveMk5cEBMF2mfHzjpxhI67mRwk3I5Q=";
            goSum = ./go.sum;

            env = {
              CGO_ENABLED = "0";
              GOWORK = "off";
            };
            ldflags = [
              "-s"
              "-w"
              "-X main.version=${version}"
              "-X main.commit=${commit}"
            ];

            # `make test` runs every module's tests with -race in CI; the package only builds.
            doCheck = false;

            meta = {
              description = "Local stdio MCP server that relays to an MCP server on Google Cloud Run, adding Google ID tokens";
              homepage = "https://github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy";
              mainProgram = "mcp-cloudrun-proxy";
              license = lib.licenses.asl20;
              platforms = lib.platforms.linux ++ lib.platforms.darwin;
            };
          };
        in
        {
          inherit mcp-cloudrun-proxy;
          default = mcp-cloudrun-proxy;
        }
      );

      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = "${self.packages.${pkgs.stdenv.hostPlatform.system}.default}/bin/mcp-cloudrun-proxy";
          meta.description = "Run mcp-cloudrun-proxy (e.g. nix run github:mcp-cloudrun-proxy/mcp-cloudrun-proxy -- run --url ...)";
        };
      });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            (goFor pkgs)
            pkgs.gotestsum
            pkgs.gopls
          ];
        };
      });

      checks = forAllSystems (pkgs: {
        default = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
      });
    };
}

# Evaluates flake.nix's outputs against a stand-in for nixpkgs, for machines with Nix but
# without network access to fetch nixpkgs (where `nix flake check` cannot run). It checks
# the flake's shape and the arguments it gives buildGoModule, not that nixpkgs accepts them.
#
#   nix-instantiate --eval --strict --json scripts/flake-eval.nix
let
  flake = import ../flake.nix;
  systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
  lib = {
    genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);
    fileset = {
      toSource = { root, fileset }: { inherit fileset; };
      difference = keep: drop: { inherit keep drop; };
      unions = builtins.map toString;
      maybeMissing = p: p;
    };
    licenses.asl20 = "asl20";
    platforms = { linux = [ "x86_64-linux" "aarch64-linux" ]; darwin = [ "x86_64-darwin" "aarch64-darwin" ]; };
  };
  stubPkgs = system: {
    inherit lib;
    stdenv.hostPlatform.system = system;
    go_1_26 = "go_1_26";
    go = "go";
    gotestsum = "gotestsum";
    gopls = "gopls";
    buildGoModule.override = { go }: args: args // { inherit go; outPath = "/nix/store/stub-${args.pname}-${system}"; };
    mkShell = args: args;
  };
  nixpkgs = { inherit lib; legacyPackages = lib.genAttrs systems stubPkgs; };
  self = outputs // { lastModifiedDate = "20260102030405"; shortRev = "abc1234"; };
  outputs = flake.outputs { inherit self nixpkgs; };
  pkg = system: outputs.packages.${system}.default;
in
{
  inputs = flake.inputs;
  packages = builtins.mapAttrs (system: p: builtins.attrNames p) outputs.packages;
  package = builtins.mapAttrs (system: _: {
    inherit (pkg system) pname version modRoot subPackages proxyVendor vendorHash env ldflags go;
    mainProgram = (pkg system).meta.mainProgram;
    excluded = (pkg system).src.fileset.drop;
  }) outputs.packages;
  apps = builtins.mapAttrs (system: a: a.default.program) outputs.apps;
  devShells = builtins.mapAttrs (system: s: s.default.packages) outputs.devShells;
  checks = builtins.mapAttrs (system: c: c.default.pname) outputs.checks;
}

"""Container images built from Debian packages, for services and for the test bed."""

from provisioner.images.builder import HASH_LABEL, Recipe, build_image, load_recipe, recipe_hash
from provisioner.images.rootfs import BuildError

__all__ = ["HASH_LABEL", "BuildError", "Recipe", "build_image", "load_recipe", "recipe_hash"]

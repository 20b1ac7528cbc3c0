"""Class-heavy programs: each traced as a whole module, each `main(scale)`
returns a JSON-able result that must be equal traced and untraced."""

PROGRAMS = ["scheduler", "raytracer", "solver", "quadtree", "slotted"]

"""A small ray tracer: a vector class hierarchy with operator overloading,
shapes with `super().__init__`, and a scene walked per pixel."""

import math


class Vec:
    def __init__(self, x, y, z):
        self.x = x
        self.y = y
        self.z = z

    def __add__(self, other):
        return self.__class__(self.x + other.x, self.y + other.y, self.z + other.z)

    def __sub__(self, other):
        return self.__class__(self.x - other.x, self.y - other.y, self.z - other.z)

    def __mul__(self, k):
        return Vec(self.x * k, self.y * k, self.z * k)

    __rmul__ = __mul__

    def __neg__(self):
        return Vec(-self.x, -self.y, -self.z)

    def __eq__(self, other):
        return isinstance(other, Vec) and (self.x, self.y, self.z) == (other.x, other.y, other.z)

    def __hash__(self):
        return hash((self.x, self.y, self.z))

    def dot(self, other):
        return self.x * other.x + self.y * other.y + self.z * other.z

    def norm(self):
        return math.sqrt(self.dot(self))

    def unit(self):
        return self * (1.0 / self.norm())


class Point(Vec):
    def to(self, other):
        return Vec.__sub__(other, self)


class Color(Vec):
    def __init__(self, r, g, b):
        Vec.__init__(self, r, g, b)

    def scale(self, k):
        return Color(self.x * k, self.y * k, self.z * k)

    def mix(self, other):
        return Color(self.x * other.x, self.y * other.y, self.z * other.z)

    def clamp(self):
        return tuple(int(255 * max(0.0, min(1.0, c))) for c in (self.x, self.y, self.z))


BLACK = Color(0.0, 0.0, 0.0)


class Ray:
    def __init__(self, origin, direction):
        self.origin = origin
        self.direction = direction.unit()

    def at(self, t):
        return self.origin + self.direction * t


class Shape:
    def __init__(self, color, shine=0.0):
        self.color = color
        self.shine = shine

    def hit(self, ray):
        raise NotImplementedError

    def normal(self, p):
        raise NotImplementedError


class Sphere(Shape):
    def __init__(self, center, radius, color, shine=0.2):
        super().__init__(color, shine)
        self.center = center
        self.radius = radius

    def hit(self, ray):
        oc = ray.origin - self.center
        b = oc.dot(ray.direction)
        c = oc.dot(oc) - self.radius * self.radius
        disc = b * b - c
        if disc < 0:
            return None
        t = -b - math.sqrt(disc)
        return t if t > 1e-6 else None

    def normal(self, p):
        return (p - self.center).unit()


class Plane(Shape):
    def __init__(self, point, normal, color):
        super().__init__(color)
        self.point = point
        self.n = normal.unit()

    def hit(self, ray):
        d = self.n.dot(ray.direction)
        if abs(d) < 1e-9:
            return None
        t = (self.point - ray.origin).dot(self.n) / d
        return t if t > 1e-6 else None

    def normal(self, p):
        return self.n


class Scene:
    def __init__(self, light):
        self.shapes = []
        self.light = light

    def add(self, shape):
        self.shapes.append(shape)
        return self

    def closest(self, ray):
        best, best_t = None, math.inf
        for shape in self.shapes:
            t = shape.hit(ray)
            if t is not None and t < best_t:
                best, best_t = shape, t
        return best, best_t

    def trace(self, ray, depth=0):
        shape, t = self.closest(ray)
        if shape is None:
            return BLACK
        p = ray.at(t)
        n = shape.normal(p)
        to_light = (self.light - p).unit()
        shadow, _ = self.closest(Ray(p + n * 1e-4, to_light))
        light = 0.1 if shadow is not None else 0.1 + max(0.0, n.dot(to_light))
        color = shape.color.scale(light)
        if depth < 2 and shape.shine > 0:
            bounce = ray.direction - n * (2 * ray.direction.dot(n))
            color = color + self.trace(Ray(p + n * 1e-4, bounce), depth + 1).scale(shape.shine)
        return color


def main(scale=1.0):
    width, height = int(16 * scale) or 1, int(12 * scale) or 1
    scene = Scene(Point(5.0, 5.0, -10.0))
    scene.add(Sphere(Point(0.0, 0.0, 3.0), 1.0, Color(1.0, 0.2, 0.2)))
    scene.add(Sphere(Point(1.5, 0.5, 4.0), 0.7, Color(0.2, 1.0, 0.2), shine=0.5))
    scene.add(Plane(Point(0.0, -1.0, 0.0), Vec(0.0, 1.0, 0.0), Color(0.8, 0.8, 0.8)))
    eye = Point(0.0, 0.0, -2.0)
    pixels = []
    for j in range(height):
        for i in range(width):
            target = Point((i - width / 2) / width * 2, (height / 2 - j) / height * 2, 0.0)
            pixels.append(scene.trace(Ray(eye, eye.to(target))).clamp())
    distinct = {Vec(*p) for p in pixels}
    return {"checksum": sum(sum(p) for p in pixels), "first": pixels[:3], "distinct": len(distinct)}

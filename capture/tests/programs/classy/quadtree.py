"""A quadtree with recursive insertion and range queries over points of a
small class with equality and hashing."""


class Point:
    def __init__(self, x, y, mass=1.0):
        self.x = x
        self.y = y
        self.mass = mass

    def __eq__(self, other):
        return isinstance(other, Point) and self.x == other.x and self.y == other.y

    def __hash__(self):
        return hash((self.x, self.y))


class Box:
    def __init__(self, x0, y0, x1, y1):
        self.x0, self.y0, self.x1, self.y1 = x0, y0, x1, y1

    def contains(self, p):
        return self.x0 <= p.x < self.x1 and self.y0 <= p.y < self.y1

    def overlaps(self, other):
        return not (other.x0 >= self.x1 or other.x1 <= self.x0 or other.y0 >= self.y1 or other.y1 <= self.y0)

    def quarters(self):
        mx, my = (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2
        return [
            Box(self.x0, self.y0, mx, my),
            Box(mx, self.y0, self.x1, my),
            Box(self.x0, my, mx, self.y1),
            Box(mx, my, self.x1, self.y1),
        ]


class Node:
    CAPACITY = 4

    def __init__(self, box, depth=0):
        self.box = box
        self.depth = depth
        self.points = []
        self.children = None
        self.mass = 0.0
        self.cx = 0.0
        self.cy = 0.0

    def insert(self, p):
        if not self.box.contains(p):
            return False
        self.mass += p.mass
        self.cx += p.x * p.mass
        self.cy += p.y * p.mass
        if self.children is None:
            if len(self.points) < Node.CAPACITY or self.depth > 8:
                self.points.append(p)
                return True
            self.children = [Node(b, self.depth + 1) for b in self.box.quarters()]
            for old in self.points:
                self.place(old)
            self.points = []
        return self.place(p)

    def place(self, p):
        for child in self.children:
            if child.insert(p):
                return True
        return False

    def query(self, box, found):
        if not self.box.overlaps(box):
            return found
        for p in self.points:
            if box.contains(p):
                found.append(p)
        if self.children is not None:
            for child in self.children:
                child.query(box, found)
        return found

    def depth_max(self):
        if self.children is None:
            return self.depth
        return max(child.depth_max() for child in self.children)

    def force_on(self, p, theta=0.5):
        if self.mass == 0.0:
            return 0.0, 0.0
        cx, cy = self.cx / self.mass, self.cy / self.mass
        dx, dy = cx - p.x, cy - p.y
        d2 = dx * dx + dy * dy + 1e-3
        size = self.box.x1 - self.box.x0
        if self.children is None or size * size < theta * theta * d2:
            if self.children is None and p in self.points and len(self.points) == 1:
                return 0.0, 0.0
            f = self.mass * p.mass / d2
            return f * dx, f * dy
        fx = fy = 0.0
        for child in self.children:
            ax, ay = child.force_on(p, theta)
            fx += ax
            fy += ay
        return fx, fy


def main(scale=1.0):
    n = max(8, int(60 * scale))
    root = Node(Box(0.0, 0.0, 100.0, 100.0))
    seed = 7
    points = []
    for i in range(n):
        seed = (seed * 1103515245 + 12345) % 2147483648
        x = (seed % 10000) / 100.0
        seed = (seed * 1103515245 + 12345) % 2147483648
        y = (seed % 10000) / 100.0
        points.append(Point(x, y, 1.0 + i % 3))
    inserted = sum(1 for p in points if root.insert(p))
    found = root.query(Box(25.0, 25.0, 75.0, 75.0), [])
    forces = [root.force_on(p) for p in points[:10]]
    return {
        "inserted": inserted,
        "found": len(found),
        "unique": len(set(points)),
        "depth": root.depth_max(),
        "forces": [[round(fx, 9), round(fy, 9)] for fx, fy in forces],
        "first_found_is_point": found[0] is points[points.index(found[0])],
    }

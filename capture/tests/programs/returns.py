"""Traced functions that hand their result back in different ways: a
call's result reuses the body's proxy only when nothing else can see it
(test_api)."""

import weakref

KEPT = []
WATCHERS = []


def scaled(v):
    return v * 2 + 1


def scaled_and_kept(v):
    result = v * 2 + 1
    KEPT.append(result)
    return result


def scaled_and_watched(v):
    result = v * 2 + 1
    WATCHERS.append(weakref.ref(result))
    return result

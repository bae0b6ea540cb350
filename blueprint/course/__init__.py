"""The book's course material: what the lessons of ``tutorials/`` share (``kit``) and their exercises.

``blueprint.course.kit`` holds the figures folder, the fast mode, the digits data and the small CNN;
``blueprint.course.exercises`` the checkers of the exercises at the end of every lesson. Both ship with the
package, so that a lesson's notebook downloaded from the book runs with only blueprint installed. Nothing here
is imported by ``import blueprint``.
"""

"""The generated sanity set (answers known from the pixels) and the tiny model the demo builds."""

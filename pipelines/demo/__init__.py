"""Demo: a seeded synthetic SageMaker fleet so the whole pipeline runs on a laptop without AWS."""

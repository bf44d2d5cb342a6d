from django.apps import AppConfig


class BenchmarkConfig(AppConfig):
    name = "membergate.benchmark"
    verbose_name = "Benchmark endpoints"

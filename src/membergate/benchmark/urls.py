from django.urls import path

from membergate.benchmark import views

urlpatterns = [path("insert", views.insert, name="bench-insert")]

"""@dynamic: merge sort by recursion (a dynamic calling itself) and a loop over real input values."""

from __future__ import annotations

from flyrun import dynamic, task, workflow


@task
def split(numbers: list[int]) -> tuple[list[int], list[int]]:
    middle = len(numbers) // 2
    return numbers[:middle], numbers[middle:]


@task
def merge(left: list[int], right: list[int]) -> list[int]:
    merged, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            merged.append(left[i])
            i += 1
        else:
            merged.append(right[j])
            j += 1
    return merged + left[i:] + right[j:]


@task
def sort_locally(numbers: list[int]) -> list[int]:
    return sorted(numbers)


@dynamic
def merge_sort(numbers: list[int], run_local_at_count: int = 2) -> list[int]:
    if len(numbers) <= run_local_at_count:
        return sort_locally(numbers=numbers)
    left, right = split(numbers=numbers)
    return merge(left=merge_sort(numbers=left, run_local_at_count=run_local_at_count),
                 right=merge_sort(numbers=right, run_local_at_count=run_local_at_count))


@task
def square(x: int) -> int:
    return x * x


@task
def total(values: list[int]) -> int:
    return sum(values)


@dynamic(retries=1)
def sum_of_squares(n: int) -> int:
    return total(values=[square(x=i) for i in range(n)])


@workflow
def sort_wf(numbers: list[int] = [5, 3, 9, 1, 7, 2, 8]) -> list[int]:  # noqa: B006
    return merge_sort(numbers=numbers)


@workflow
def squares_wf(n: int = 5) -> int:
    return sum_of_squares(n=n)
